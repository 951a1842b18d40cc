"""Tests of fada_tf.convert: PyTorch checkpoints of the original FADA into fada-tf runs."""
