"""Self-distillation (``fada_tf.training.stages.distill``): the teacher's pseudo labels written and
read back, and the distill stage of a run."""

import dataclasses
import json

import numpy as np
import pytest

from fada_tf.config import load_config
from fada_tf.data.classes import class_table
from fada_tf.data.datasets import split_pairs
from fada_tf.data.pipeline import evaluation_image
from fada_tf.errors import FadaError
from fada_tf.evaluation.evaluate import predict_probabilities
from fada_tf.evaluation.label_files import read_label_png
from fada_tf.models import build_segmentor
from fada_tf.training.run import run_training
from fada_tf.training.run_dir import RunDir
from fada_tf.training.stages.distill import pseudo_labelled_pairs, write_pseudo_labels
from tests.support.keras_models import random_statistics

SMALL = ["model.tiny_width=4", "data.synthetic.source_images=6", "data.synthetic.target_train_images=5",
         "data.synthetic.target_val_images=3", "data.synthetic.height=32", "data.synthetic.width=48",
         "data.eval_size=[32, 48]", "data.eval_batch_size=2", "data.target.val_split=val",
         *[f"{stream}={{resize: [32, 48], crop: [32, 48]}}" for stream in (
             "source.source_images", "adapt.source_images", "adapt.target_images", "distill.target_images")],
         "source.steps=3", "source.batch_size=2", "distill.steps=3", "distill.batch_size=2",
         "run.log_every=3", "run.checkpoint_every=0"]


@pytest.mark.parametrize("scales,flip,threshold", [([1.0], False, 0.0), ([0.7, 1.0], True, 0.4)])
def test_pseudo_labels_are_the_teachers_confident_predictions(tmp_path, scales, flip, threshold):
    config = load_config(None, [*SMALL, f"distill.scales={scales}", f"distill.flip={flip}",
                                f"distill.confidence_threshold={threshold}"])
    table = class_table(config.data.classes)
    teacher = build_segmentor(config.model, table.num_classes, seed=5)
    stats = write_pseudo_labels(teacher, config, table, tmp_path / "pseudo", verbose=0)

    images, labels = zip(*split_pairs(config.data, "target", "train").as_numpy_iterator())
    inputs = np.stack([evaluation_image(image, (32, 48), config.model.normalization) for image in images])
    probabilities = predict_probabilities(teacher, inputs, (32, 48), scales, flip).numpy()
    expected = np.where(probabilities.max(-1) < threshold, 255, probabilities.argmax(-1))
    saved = np.stack([read_label_png(tmp_path / "pseudo" / f"{i:05d}.png") for i in range(5)])
    assert stats["num_images"] == 5 and len(list((tmp_path / "pseudo").glob("*.png"))) == 5
    assert np.mean(saved == expected) > 0.999   # ties at float rounding may differ
    assert stats["ignored_fraction"] == pytest.approx(np.mean(saved == 255))
    assert (threshold > 0) == (stats["ignored_fraction"] > 0)
    truth = np.stack(labels)
    for c in range(table.num_classes):   # pseudo-label quality: IoU against the split's labels
        tp = np.sum((saved == c) & (truth == c))
        union = np.sum(((saved == c) | (truth == c)) & (truth != 255))
        assert stats["quality"]["per_class_iou"][table.names[c]] == (pytest.approx(tp / union) if union else None)

    pairs = list(pseudo_labelled_pairs(config, tmp_path / "pseudo").as_numpy_iterator())
    assert len(pairs) == 5
    np.testing.assert_array_equal(pairs[3][0], images[3])
    np.testing.assert_array_equal(pairs[3][1], saved[3])


def test_distill_without_a_teacher_is_an_error(tmp_path):
    config = load_config(None, [*SMALL, "run.stages=[distill]"])
    with pytest.raises(FadaError, match="distill without an earlier stage"):
        run_training(config, RunDir.create(tmp_path / "run", config), verbose=0)


@pytest.mark.slow
@pytest.mark.parametrize("init", ["model", "teacher"])
def test_a_run_with_a_distill_stage_trains_a_student_on_pseudo_labels(tmp_path, init):
    config = load_config(None, [*SMALL, "run.stages=[source, distill]", f"distill.student_init={init}",
                                "distill.optimizer.learning_rate=0.0", "model.freeze_bn=true",
                                "distill.freeze_bn=true"])
    run = RunDir.create(tmp_path / "run", config)
    metrics = run_training(config, run, verbose=0)
    assert set(metrics["stages"]) == {"source", "distill"}
    assert metrics["pseudo_labels"]["num_images"] == 5
    assert json.loads(run.metrics_path.read_text())["stages"]["distill"] == metrics["stages"]["distill"]
    assert run.latest_checkpoint().name == "distill-000003.weights.h5"
    assert (run.path / "distill_target_examples.png").is_file()
    # With a zero learning rate (and frozen BatchNorm statistics) the student stays as
    # initialised: a copy of the teacher gives
    # the teacher's mIoU, a fresh network (another init) does not.
    same = metrics["stages"]["distill"]["miou"] == pytest.approx(metrics["stages"]["source"]["miou"], abs=1e-12)
    assert same == (init == "teacher")


@pytest.mark.parametrize("name", ["distill-000003.weights.h5", "best.weights.h5"])
def test_a_student_with_trainable_batch_norm_is_restored_as_it_was_trained(tmp_path, name):
    """A frozen-BN config (the paper's model) restores a self-distilled student's file — named
    by its stage or not — into a network with trainable BN (epsilon, as torch's BatchNorm2d)."""
    from fada_tf.training.checkpoints import restore_segmentor

    config = load_config(None, [*SMALL, "model.freeze_bn=true", "run.stages=[source, adapt]"])
    student = build_segmentor(dataclasses.replace(config.model, freeze_bn=False), 9, seed=4)
    random_statistics(student, 0)
    student.save_weights(tmp_path / name)
    restored = restore_segmentor(config, str(tmp_path / name))
    images = np.random.default_rng(1).normal(size=(2, 32, 48, 3)).astype(np.float32)
    np.testing.assert_allclose(restored(images)["logits"], student(images)["logits"], rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_a_distilled_teacher_of_the_other_batch_norm_kind_teaches(tmp_path):
    """`fada-tf distill --teacher RUN` of a run that ended with a trainable-BN student, under a
    frozen-BN model config: the teacher is loaded as it was trained."""
    config = load_config(None, [*SMALL, "model.freeze_bn=true", "distill.freeze_bn=true",
                                "run.stages=[distill]"])
    teacher = build_segmentor(dataclasses.replace(config.model, freeze_bn=False), 9, seed=4)
    random_statistics(teacher, 1)
    teacher.save_weights(tmp_path / "distill-000003.weights.h5")
    config.distill.teacher_checkpoint = str(tmp_path / "distill-000003.weights.h5")
    metrics = run_training(config, RunDir.create(tmp_path / "run", config), verbose=0)
    inputs = np.stack([evaluation_image(image, (32, 48), config.model.normalization)
                       for image, _ in split_pairs(config.data, "target", "train").as_numpy_iterator()])
    expected = predict_probabilities(teacher, inputs, (32, 48)).numpy().argmax(-1)
    saved = np.stack([read_label_png(tmp_path / "run" / "pseudo_labels" / f"{i:05d}.png") for i in range(5)])
    assert np.mean(saved == expected) > 0.999
    assert metrics["teacher"]["checkpoint"].endswith("distill-000003.weights.h5")
