"""The deployable function: an RGB image batch of any size in, per-pixel logits, probabilities
or labels at that size out — the computation of ``fada-tf predict --run`` and of evaluation.

What ships is the discriminator-free segmentor (paper, end of section 3.2): at test time FADA
is the DeepLabV2 network alone. With a working size (``resize_to``, the checkpoint's
``eval_size``: what ``fada-tf export`` does by default) the graph does what evaluation and
``fada-tf predict --run`` do (``fada_tf.data.pipeline.evaluation_image``,
``fada_tf.evaluation.predict_labels``), all inside:

1. resize the image to the working size with PIL's bicubic (``fada_tf.data.image_ops``:
   ``resize_images``, bit-exact to Pillow on the RGB bytes; the taps are computed in the graph
   from the input's size, so any size works, also in ONNX Runtime);
2. normalise it as ``model.normalization`` says (``fada_tf.data.pipeline.normalize``);
3. run the network and upsample its logits bilinearly with corners aligned to the *input*
   size, then the softmax or the argmax.

An input that already has the working size skips step 1 (a conditional: PIL returns such an
image unchanged). With ``input_mode="float"`` the caller normalises the full-size image and
the graph resizes the normalised floats with the same bicubic filter as PIL resizes 32-bit
float images (``resize_float_images``: no 8-bit rounding between and after the passes, so
not bit-equal to evaluation's resize-then-normalise; see ``fada_tf.export.metadata``).
Without a working size (``resize_to=None``, ``--resize caller``) the network runs at the
input's size and the caller resizes, as exports of fada-tf 0.2 did.

Only operations that convert to ONNX are used: ``tf.compat.v1.image.resize(align_corners=True)``
with a dynamic size and ``tf.argmax(output_type=tf.int32)`` do, ``keras.ops.image.resize`` with a
dynamic size and ``keras.ops.argmax`` on floats do not.
"""

from __future__ import annotations

import tensorflow as tf

from fada_tf.config.schema import NormalizationConfig
from fada_tf.data.image_ops import resize_float_images, resize_images
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


def network_input(image, normalization: NormalizationConfig, input_mode: str,
                  resize_to: tuple[int, int] | None = None, size: tuple[int, int] | None = None):
    """The segmentor's input for a batch of deployable inputs: resized to ``resize_to`` (PIL
    bicubic; skipped when None, or when the fixed input ``size`` already is ``resize_to``),
    normalised when the input is bytes."""
    if resize_to is not None and (size is None or tuple(size) != tuple(resize_to)):
        resize = resize_images if input_mode == "uint8" else resize_float_images
        image = resize(image, tuple(resize_to))
    return normalize(image, normalization) if input_mode == "uint8" else tf.cast(image, tf.float32)


def deployable_function(segmentor, normalization: NormalizationConfig, output: str = "probs",
                        input_mode: str = "uint8", size: tuple[int, int] | None = None,
                        resize_to: tuple[int, int] | None = None):
    """A ``tf.function`` image -> ``{output: tensor}`` at the input's height and width.

    ``output``: ``"logits"`` (N, H, W, K) float32, ``"probs"`` their softmax over K, or
    ``"labels"`` (N, H, W) int32 train IDs. ``size`` fixes the input's height and width;
    ``resize_to`` is the working size the network runs at (None: the input's size).
    """
    if output not in OUTPUT_MODES:
        raise ValueError(f"output must be one of {OUTPUT_MODES}, got {output!r}")
    spec = input_spec(input_mode, size)

    @tf.function(input_signature=[spec])
    def segment(image):
        x = network_input(image, normalization, input_mode, resize_to, size)
        logits = resize_bilinear(segmentor(x, training=False)["logits"], tf.shape(image)[1:3])
        if output == "logits":
            return {"logits": logits}
        if output == "probs":
            return {"probs": tf.nn.softmax(logits, axis=-1)}
        return {"labels": tf.argmax(logits, axis=-1, output_type=tf.int32)}

    return segment
