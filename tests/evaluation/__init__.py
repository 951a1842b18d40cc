"""Tests of fada_tf.evaluation: metrics, multi-scale evaluation, label files, Class Center Distance."""
