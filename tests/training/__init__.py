"""Tests of fada_tf.training: optimisers, state checkpoints, resume, distribution strategies."""
