"""The paper's multi-scale testing (Table 4, "MST"): the original implementation's image scales,
averaged with their horizontal flips (``fada_tf.evaluation.evaluate``). Importing this module
loads no TensorFlow, so the command line's options can name the scales."""

MST_SCALES = (0.7, 1.0, 1.3)
