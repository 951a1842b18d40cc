"""The ``fada-tf`` command line (installed as ``fada_tf.cli``)."""
