"""Confusion-matrix IoU against a per-class brute-force count."""

import numpy as np
import pytest

from fada_tf.data.classes import ClassTable, class_table
from fada_tf.evaluation.metrics import confusion_matrix, iou_per_class, mean_iou, summarize


def brute_force_iou(labels, predictions, k):
    valid = labels != 255
    ious = []
    for c in range(k):
        tp = np.sum((labels == c) & (predictions == c) & valid)
        fp = np.sum((labels != c) & (predictions == c) & valid)
        fn = np.sum((labels == c) & (predictions != c) & valid)
        ious.append(tp / (tp + fp + fn) if tp + fp + fn else np.nan)
    return np.array(ious)


def test_iou_matches_brute_force_and_ignores_255():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 6, size=(3, 20, 30))
    labels[rng.random(labels.shape) < 0.2] = 255
    predictions = np.where(rng.random(labels.shape) < 0.6, labels, rng.integers(0, 6, size=labels.shape))
    predictions = np.where(predictions == 255, 0, predictions)
    confusion = confusion_matrix(labels, predictions, 6)
    assert confusion.sum() == np.sum(labels != 255)
    np.testing.assert_allclose(iou_per_class(confusion), brute_force_iou(labels, predictions, 6))


def test_accumulating_per_image_equals_one_big_matrix():
    rng = np.random.default_rng(2)
    labels, predictions = rng.integers(0, 4, size=(5, 8, 8)), rng.integers(0, 4, size=(5, 8, 8))
    total = sum(confusion_matrix(l, p, 4) for l, p in zip(labels, predictions))
    np.testing.assert_array_equal(total, confusion_matrix(labels, predictions, 4))


def test_absent_classes_do_not_count_in_the_mean():
    table = class_table("synthetic")
    labels = np.array([[0, 0, 1, 1]])
    predictions = np.array([[0, 1, 1, 1]])
    result = summarize(confusion_matrix(labels, predictions, table.num_classes), table)
    assert result["per_class_iou"]["road"] == pytest.approx(0.5)
    assert result["per_class_iou"]["sidewalk"] == pytest.approx(2 / 3)
    assert result["per_class_iou"]["car"] is None
    assert result["miou"] == pytest.approx((0.5 + 2 / 3) / 2)
    assert result["pixel_acc"] == pytest.approx(0.75)
    assert "miou_13" not in result


def test_synthia_runs_also_report_the_13_class_mean():
    table = class_table("synthia16")
    labels = np.arange(16).repeat(4)
    predictions = labels.copy()
    wall, fence = table.names.index("wall"), table.names.index("fence")
    predictions[labels == wall] = fence  # wrong only among the three classes mIoU* leaves out
    result = summarize(confusion_matrix(labels, predictions, 16), table)
    assert result["miou_13"] == pytest.approx(1.0)
    assert result["miou"] < 1.0


def test_predictions_of_no_class_are_misses_not_false_positives():
    labels = np.array([0, 0, 1, 1, 255])
    predictions = np.array([0, 255, 1, 0, 255])
    confusion = confusion_matrix(labels, predictions, 2, count_misses=True)
    assert confusion.shape == (2, 3)
    # class 0: tp 1, fn 1 (the 255) , fp 1 -> 1/3; class 1: tp 1, fn 1 -> 1/2
    np.testing.assert_allclose(iou_per_class(confusion), [1 / 3, 1 / 2])
    result = summarize(confusion, ClassTable("two", ("a", "b"), ((0, 0, 0), (1, 1, 1))))
    assert result["per_class_iou"] == pytest.approx({"a": 1 / 3, "b": 1 / 2})
    assert result["pixel_acc"] == pytest.approx(2 / 4)
    with pytest.raises(ValueError, match="prediction 255 is not a class"):
        confusion_matrix(labels, predictions, 2)


def test_a_stack_of_matrices_gets_the_metrics_of_each():
    rng = np.random.default_rng(3)
    stack = rng.integers(0, 40, (2, 3, 4, 5)) * (rng.random((2, 3, 4, 5)) < 0.4)  # with misses
    stack[0, 0] = 0  # no class at all: no IoU, mIoU 0
    ious, mious = iou_per_class(stack), mean_iou(stack)
    assert ious.shape == (2, 3, 4) and mious.shape == (2, 3)
    for i, j in np.ndindex(2, 3):
        labels = np.repeat(np.arange(4), stack[i, j].sum(1))
        predictions = np.concatenate([np.repeat(np.r_[np.arange(4), 255], row) for row in stack[i, j]])
        expected = brute_force_iou(labels, predictions, 4)
        np.testing.assert_allclose(ious[i, j], expected)
        assert mious[i, j] == pytest.approx(np.nanmean(expected) if np.isfinite(expected).any() else 0.0)
        assert mious[i, j] == mean_iou(stack[i, j])  # the same arithmetic, to the last bit
        if i or j:
            assert mean_iou(stack[i, j]) == float(np.nanmean(iou_per_class(stack[i, j])))
    assert isinstance(mean_iou(stack[1, 1]), float)
