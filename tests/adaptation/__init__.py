"""Tests of fada_tf.adaptation: domain encodings, losses, pseudo labels, the FADA train step."""
