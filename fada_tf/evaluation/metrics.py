"""Confusion-matrix segmentation metrics (paper section 4.2: IoU = TP / (TP + FP + FN)).

The matrix is accumulated over a whole split before any ratio is taken, as the official
Cityscapes evaluation does; classes absent from both ground truth and prediction have no IoU
and do not count in the mean. A matrix may carry one extra last column: ground-truth pixels
whose prediction is no class at all (255 in a saved prediction), which count as misses of
their class and as nobody's false positive — how the official evaluation counts "void"
predictions.
"""

from __future__ import annotations

import numpy as np

from fada_tf.data.classes import IGNORE_LABEL, SYNTHIA_EXCLUDED_FOR_MIOU13, ClassTable


def confusion_matrix(labels, predictions, num_classes: int, ignore_label: int = IGNORE_LABEL,
                     count_misses: bool = False):
    """(K, K) int64 counts, rows = ground truth, columns = prediction; ignored pixels skipped.

    With ``count_misses`` the matrix is (K, K + 1) and predictions outside [0, K) land in the
    last column; without it they are an error.
    """
    labels = np.asarray(labels).ravel().astype(np.int64)
    predictions = np.asarray(predictions).ravel().astype(np.int64)
    keep = labels != ignore_label
    labels, predictions = labels[keep], predictions[keep]
    outside = (predictions < 0) | (predictions >= num_classes)
    columns = num_classes + 1 if count_misses else num_classes
    if count_misses:
        predictions = np.where(outside, num_classes, predictions)
    elif outside.any():
        raise ValueError(f"prediction {predictions[outside][0]} is not a class of 0..{num_classes - 1}")
    index = labels * columns + predictions
    return np.bincount(index, minlength=num_classes * columns).reshape(num_classes, columns)


def iou_per_class(confusion) -> np.ndarray:
    """IoU of each class as a fraction; NaN for a class absent from labels and predictions.

    ``confusion`` is (K, K), or (K, K + 1) with a last column of misses (module docstring),
    or a stack of either, (..., K, K[+1]): then (..., K) IoUs.
    """
    confusion = np.asarray(confusion, np.float64)
    k = confusion.shape[-2]
    tp = np.diagonal(confusion[..., :k], axis1=-2, axis2=-1)
    union = confusion[..., :k].sum(-2) + confusion.sum(-1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, tp / union, np.nan)


def summarize(confusion, table: ClassTable) -> dict:
    """``{"miou", "per_class_iou": {name: iou}, "pixel_acc"}``; absent classes are None.

    16-class (SYNTHIA) tables also get ``miou_13``, the mean without wall, fence and pole
    (the paper's mIoU*).
    """
    iou = iou_per_class(confusion)
    confusion = np.asarray(confusion)
    total = confusion.sum()
    result = {
        "miou": _nanmean(iou),
        "per_class_iou": {name: (None if np.isnan(v) else float(v)) for name, v in zip(table.names, iou)},
        "pixel_acc": float(np.trace(confusion[:, : len(iou)]) / total) if total else 0.0,
    }
    if table.key == "synthia16":
        kept = [n not in SYNTHIA_EXCLUDED_FOR_MIOU13 for n in table.names]
        result["miou_13"] = _nanmean(iou[kept])
    return result


def mean_iou(confusion):
    """mIoU of a (K, K) or (K, K + 1) matrix: the mean IoU over the classes that have one (0
    if none); of a stack of matrices (..., K, K[+1]), the (...) array of theirs."""
    return _nanmean(iou_per_class(confusion))


def _nanmean(values):
    """The mean of the non-NaN values along the last axis, 0 where there are none; a float
    for one vector."""
    values = np.asarray(values)
    present = ~np.isnan(values)
    count = present.sum(-1)
    means = np.where(count > 0, np.where(present, values, 0.0).sum(-1) / np.maximum(count, 1), 0.0)
    return float(means) if means.ndim == 0 else means
