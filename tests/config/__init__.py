"""Tests of fada_tf.config: loading, checking and the paper recipes of the shipped configs."""
