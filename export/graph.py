"""The deployable function: an RGB image batch in, per-pixel logits, probabilities or labels out.

What ships is the discriminator-free segmentor (paper, end of section 3.2): at test time FADA
is the DeepLabV2 network alone. The function wraps its ``"logits"`` output the way evaluation
does (``fada_tf.evaluation.predict_labels``): logits upsampled bilinearly with corners aligned
to the *input* size, then a softmax or an argmax. With ``input_mode="uint8"`` the graph takes
RGB bytes and applies the run's ``model.normalization`` (``fada_tf.data.pipeline.normalize``:
channel order, scale, mean, std) itself; with ``"float"`` it takes images already normalised
that way.

Only operations that convert to ONNX are used: ``tf.compat.v1.image.resize(align_corners=True)``
with a dynamic size and ``tf.argmax(output_type=tf.int32)`` do, ``keras.ops.image.resize`` with a
dynamic size and ``keras.ops.argmax`` on floats do not.
"""

from __future__ import annotations

import tensorflow as tf

from fada_tf.config.schema import NormalizationConfig
from fada_tf.data.pipeline import normalize
from fada_tf.export import INPUT_MODES, OUTPUT_MODES
from fada_tf.models.resize import resize_bilinear

INPUT_NAME = "image"


def input_spec(input_mode: str, size: tuple[int, int] | None = None) -> tf.TensorSpec:
    """NHWC RGB input: batch always dynamic, height and width dynamic unless ``size`` = (h, w)."""
    if input_mode not in INPUT_MODES:
        raise ValueError(f"input mode must be one of {INPUT_MODES}, got {input_mode!r}")
    height, width = size if size is not None else (None, None)
    dtype = tf.uint8 if input_mode == "uint8" else tf.float32
    return tf.TensorSpec([None, height, width, 3], dtype, name=INPUT_NAME)


def deployable_function(segmentor, normalization: NormalizationConfig, output: str = "probs",
                        input_mode: str = "uint8", size: tuple[int, int] | None = None):
    """A ``tf.function`` image -> ``{output: tensor}`` at the input's height and width.

    ``output``: ``"logits"`` (N, H, W, K) float32, ``"probs"`` their softmax over K, or
    ``"labels"`` (N, H, W) int32 train IDs.
    """
    if output not in OUTPUT_MODES:
        raise ValueError(f"output must be one of {OUTPUT_MODES}, got {output!r}")
    spec = input_spec(input_mode, size)

    @tf.function(input_signature=[spec])
    def segment(image):
        x = normalize(image, normalization) if input_mode == "uint8" else image
        logits = resize_bilinear(segmentor(x, training=False)["logits"], tf.shape(image)[1:3])
        if output == "logits":
            return {"logits": logits}
        if output == "probs":
            return {"probs": tf.nn.softmax(logits, axis=-1)}
        return {"labels": tf.argmax(logits, axis=-1, output_type=tf.int32)}

    return segment
