"""Confusion-matrix segmentation metrics (paper section 4.2: IoU = TP / (TP + FP + FN)).

The matrix is accumulated over a whole split before any ratio is taken, as the official
Cityscapes evaluation does; classes absent from both ground truth and prediction have no IoU
and do not count in the mean.
"""

from __future__ import annotations

import numpy as np

from fada_tf.data.classes import IGNORE_LABEL, SYNTHIA_EXCLUDED_FOR_MIOU13, ClassTable


def confusion_matrix(labels, predictions, num_classes: int, ignore_label: int = IGNORE_LABEL):
    """(K, K) int64 counts, rows = ground truth, columns = prediction; ignored pixels skipped."""
    labels = np.asarray(labels).ravel().astype(np.int64)
    predictions = np.asarray(predictions).ravel().astype(np.int64)
    keep = labels != ignore_label
    index = labels[keep] * num_classes + predictions[keep]
    return np.bincount(index, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def iou_per_class(confusion) -> np.ndarray:
    """IoU of each class as a fraction; NaN for a class absent from labels and predictions."""
    confusion = np.asarray(confusion, np.float64)
    tp = np.diag(confusion)
    union = confusion.sum(0) + confusion.sum(1) - tp
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
        "pixel_acc": float(np.trace(confusion) / total) if total else 0.0,
    }
    if table.key == "synthia16":
        kept = [n not in SYNTHIA_EXCLUDED_FOR_MIOU13 for n in table.names]
        result["miou_13"] = _nanmean(iou[kept])
    return result


def _nanmean(values) -> float:
    return float(np.nanmean(values)) if np.isfinite(values).any() else 0.0
