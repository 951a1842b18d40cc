"""Bilinear resizing with ``align_corners=True``, as the reference implementation upsamples.

``keras.ops.image.resize`` has no ``align_corners`` option (and does not export to ONNX with a
dynamic size), so this one function uses TensorFlow directly.
"""

import tensorflow as tf


def resize_bilinear(x, size):
    """Resize NHWC ``x`` to ``size`` = (height, width) with corner pixels aligned."""
    return tf.compat.v1.image.resize(
        x, size, method=tf.image.ResizeMethod.BILINEAR, align_corners=True)
