"""Bilinear resizing with ``align_corners=True``, as the reference implementation upsamples.

``keras.ops.image.resize`` has no ``align_corners`` option (and does not export to ONNX with a
dynamic size), so these functions use TensorFlow directly.
"""

import tensorflow as tf


def resize_bilinear(x, size):
    """Resize NHWC ``x`` to ``size`` = (height, width) with corner pixels aligned."""
    return tf.compat.v1.image.resize(
        x, size, method=tf.image.ResizeMethod.BILINEAR, align_corners=True)


def upsample_logits(logits, size):
    """``logits`` cast to float32, then ``resize_bilinear`` to ``size``.

    Under mixed precision a network computes in bfloat16 or float16; its logits leave it in
    float32 *before* they are interpolated, so that the upsampling, the softmax and every loss
    or encoding computed from them work in float32 (Keras' rule for a mixed-precision model's
    outputs). TensorFlow's bilinear resize returns float32 for any input already; the cast
    states the contract (tests/adaptation/test_mixed_precision.py checks it), and in float32
    it does nothing.
    """
    return resize_bilinear(tf.cast(logits, tf.float32), size)
