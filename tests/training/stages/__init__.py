"""Tests of fada_tf.training.stages: the source, adapt and distill stages of a run."""
