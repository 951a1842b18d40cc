"""Tests of the fada-tf command line (cli/, installed as fada_tf.cli), one file per command."""
