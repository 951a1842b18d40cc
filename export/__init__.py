"""Export of the discriminator-free segmentor (installed as ``fada_tf.export``).

``graph`` builds the deployable function, ``onnx`` and ``savedmodel`` write and verify the two
formats (``verify``), ``runtime`` opens ONNX Runtime sessions. The choices below are what the
command line offers; importing this package loads neither TensorFlow nor ONNX.
"""

from fada_tf.errors import FadaError

OUTPUT_MODES = ("logits", "probs", "labels")
INPUT_MODES = ("uint8", "float")
# Where images are resized to the network's working size (fada_tf.export.graph): inside the
# graph (PIL bicubic; any input size, outputs at that size), or by the caller (the network runs
# at the input's size: fada-tf 0.2's export).
RESIZE_MODES = ("graph", "caller")
# Resize with align_corners exists from opset 11; tf2onnx 1.17 writes opsets up to 18.
SUPPORTED_OPSETS = range(11, 19)
DEFAULT_OPSET = 17
# How dilated convolutions reach ONNX (fada_tf.export.dilations).
DILATIONS = ("native", "space-to-depth")
# Parity with Keras (fada_tf.export.verify): largest probability difference, label agreement.
DEFAULT_TOLERANCE = 1e-4
DEFAULT_MIN_AGREEMENT = 0.999


def check_opset(opset: int) -> None:
    """An opset tf2onnx can write and the graph's operations exist in, or a FadaError."""
    if opset not in SUPPORTED_OPSETS:
        raise FadaError(f"opset {opset} is not supported: choose one from {SUPPORTED_OPSETS.start} "
                        f"to {SUPPORTED_OPSETS.stop - 1} (default {DEFAULT_OPSET})")
