"""Segmentation metrics and evaluation of a segmentor over a labelled split."""

from fada_tf.evaluation.evaluate import evaluate
from fada_tf.evaluation.metrics import confusion_matrix, iou_per_class, summarize

__all__ = ["confusion_matrix", "evaluate", "iou_per_class", "summarize"]
