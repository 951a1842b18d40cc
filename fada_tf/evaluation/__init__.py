"""Segmentation metrics, single-scale and multi-scale + flip evaluation, Class Center Distance."""

from fada_tf.evaluation.ccd import ClassCenterStats, class_center_distance
from fada_tf.evaluation.evaluate import evaluate, predict_labels, predict_probabilities
from fada_tf.evaluation.label_files import evaluate_label_files
from fada_tf.evaluation.metrics import confusion_matrix, iou_per_class, summarize

__all__ = ["ClassCenterStats", "class_center_distance", "confusion_matrix",
           "evaluate", "evaluate_label_files", "iou_per_class", "predict_labels",
           "predict_probabilities", "summarize"]
