"""mIoU agrees with the official Cityscapes evaluation (cityscapesScripts'
evalPixelLevelSemanticLabeling) on the same generated predictions, to 1e-6.

The official script reads Cityscapes *label IDs*; the same maps are written twice: as train
IDs for ``fada-tf eval --predictions/--labels`` and, through cityscapesScripts' own label
table, as label IDs for the official evaluation (255 → "unlabeled", id 0, which it ignores
in the ground truth and counts as a miss in a prediction).
"""

import copy

import numpy as np
import pytest

from fada_tf.data.classes import class_table
from fada_tf.evaluation.label_files import evaluate_label_files, write_label_png

official = pytest.importorskip("cityscapesscripts.evaluation.evalPixelLevelSemanticLabeling")
from cityscapesscripts.helpers.labels import labels as cityscapes_labels  # noqa: E402

TABLE = class_table("cityscapes19")


def to_label_ids(train_ids):
    lookup = np.zeros(256, np.uint8)   # 255 (and anything else) -> 0 "unlabeled"
    for label in cityscapes_labels:
        if 0 <= label.trainId < 255 and label.id >= 0:
            lookup[label.trainId] = label.id
    return lookup[train_ids]


def generated_maps(rng, count=4, shape=(40, 70)):
    """Ground truths with ignored pixels and a few classes absent; noisy predictions with
    some 'no class' pixels and some predictions of classes absent from the ground truth."""
    classes = rng.permutation(19)
    present, predicted = classes[:14], classes[:15]     # 4 classes nowhere, 1 only predicted
    pairs = []
    for _ in range(count):
        truth = rng.choice(present, size=shape).astype(np.uint8)
        truth[rng.random(shape) < 0.15] = 255
        prediction = np.where(rng.random(shape) < 0.55, truth, rng.choice(predicted, size=shape)).astype(np.uint8)
        prediction[truth == 255] = rng.choice(predicted, size=np.sum(truth == 255))
        prediction[rng.random(shape) < 0.05] = 255
        pairs.append((prediction, truth))
    return pairs


def official_scores(pairs, folder):
    predictions, truths = [], []
    for i, (prediction, truth) in enumerate(pairs):
        predictions.append(str(folder / f"pred_{i}.png"))
        truths.append(str(folder / f"city_{i:06d}_000019_gtFine_labelIds.png"))
        write_label_png(predictions[-1], to_label_ids(prediction))
        write_label_png(truths[-1], to_label_ids(truth))
    args = copy.copy(official.args)
    args.evalInstLevelScore, args.evalPixelAccuracy, args.quiet, args.JSONOutput = False, False, True, False
    return official.evaluateImgLists(predictions, truths, args)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_miou_agrees_with_the_official_cityscapes_evaluation(tmp_path, seed):
    pairs = generated_maps(np.random.default_rng(seed))
    (tmp_path / "pred").mkdir(), (tmp_path / "gt").mkdir(), (tmp_path / "official").mkdir()
    for i, (prediction, truth) in enumerate(pairs):
        write_label_png(tmp_path / "pred" / f"{i}.png", prediction)
        write_label_png(tmp_path / "gt" / f"{i}.png", truth)
    ours = evaluate_label_files(tmp_path / "pred", tmp_path / "gt", TABLE, verbose=0)
    theirs = official_scores(pairs, tmp_path / "official")

    for name, iou in ours["per_class_iou"].items():
        reference = theirs["classScores"][name]
        if np.isnan(reference):
            assert iou is None, name
        else:
            assert iou == pytest.approx(reference, abs=1e-6), name
    assert sum(v is None for v in ours["per_class_iou"].values()) == 4   # absent classes occur
    assert sum(v == 0.0 for v in ours["per_class_iou"].values()) == 1
    assert ours["miou"] == pytest.approx(theirs["averageScoreClasses"], abs=1e-6)
