"""Saved label PNGs: writing predictions atomically, pairing and checking files, their mIoU."""

import numpy as np
import pytest
from PIL import Image

from fada_tf.data.classes import class_table
from fada_tf.errors import FadaError
from fada_tf.evaluation.label_files import (PredictionWriter, evaluate_label_files, read_label_png,
                                            write_label_png)
from fada_tf.evaluation.metrics import confusion_matrix, summarize

TABLE = class_table("synthetic")


def test_writer_saves_train_ids_and_colours_and_renames_at_the_end(tmp_path):
    maps = np.random.default_rng(0).integers(0, 9, size=(3, 5, 7)).astype(np.int32)
    with PredictionWriter(tmp_path / "out", TABLE) as writer:
        writer(maps[:2])
        writer(maps[2:])
        assert not (tmp_path / "out").exists()
    names = sorted(p.name for p in (tmp_path / "out" / "labels").iterdir())
    assert names == ["00000.png", "00001.png", "00002.png"]
    np.testing.assert_array_equal(read_label_png(tmp_path / "out" / "labels" / "00002.png"), maps[2])
    colours = np.asarray(Image.open(tmp_path / "out" / "color" / "00000.png"))
    np.testing.assert_array_equal(colours, np.array(TABLE.colours, np.uint8)[maps[0]])


def test_writer_leaves_nothing_behind_when_interrupted(tmp_path):
    with pytest.raises(RuntimeError):
        with PredictionWriter(tmp_path / "out", TABLE) as writer:
            writer(np.zeros((1, 4, 4), np.int32))
            raise RuntimeError("stop")
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "taken").mkdir()
    with pytest.raises(FadaError, match="already exists"):
        PredictionWriter(tmp_path / "taken", TABLE)


def test_saved_predictions_are_evaluated_like_arrays(tmp_path):
    rng = np.random.default_rng(1)
    truths = rng.integers(0, 9, size=(4, 6, 8)).astype(np.uint8)
    truths[rng.random(truths.shape) < 0.2] = 255
    predictions = rng.integers(0, 9, size=(4, 6, 8)).astype(np.uint8)
    for sub, maps in (("pred/city", predictions), ("gt/city", truths)):
        (tmp_path / sub).mkdir(parents=True)
        for i, m in enumerate(maps):
            write_label_png(tmp_path / sub / f"{i}.png", m)
    result = evaluate_label_files(tmp_path / "pred", tmp_path / "gt", TABLE, verbose=0)
    expected = summarize(confusion_matrix(truths, predictions, 9), TABLE)
    assert result["num_images"] == 4
    assert result["per_class_iou"] == pytest.approx(expected["per_class_iou"], abs=1e-12)
    assert (result["miou"], result["pixel_acc"]) == pytest.approx((expected["miou"], expected["pixel_acc"]), abs=1e-12)


@pytest.mark.parametrize("problem,message", [
    ("missing", "1 of 2 labels have no prediction of the same name"),
    ("size", "is 8x7 but .* is 8x6"),
    ("value", "holds 40, not a train ID of synthetic"),
    ("rgb", "must be single-channel train IDs, got mode RGB"),
])
def test_bad_label_files_are_clear_errors(tmp_path, problem, message):
    (tmp_path / "pred").mkdir(), (tmp_path / "gt").mkdir()
    for i in range(2):
        write_label_png(tmp_path / "gt" / f"{i}.png", np.zeros((6, 8), np.uint8))
        write_label_png(tmp_path / "pred" / f"{i}.png", np.ones((6, 8), np.uint8))
    target = tmp_path / "pred" / "1.png"
    if problem == "missing":
        target.unlink()
    elif problem == "size":
        write_label_png(target, np.zeros((7, 8), np.uint8))
    elif problem == "value":
        write_label_png(target, np.full((6, 8), 40, np.uint8))
    else:
        Image.fromarray(np.zeros((6, 8, 3), np.uint8)).save(target)
    with pytest.raises(FadaError, match=message):
        evaluate_label_files(tmp_path / "pred", tmp_path / "gt", TABLE, verbose=0)
