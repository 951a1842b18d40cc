"""DeepLabV2's ASPP classifier, the original's ``ASPP_Classifier_V2``.

Four parallel 3x3 convolutions from the backbone features straight to the class logits, with
dilations 6, 12, 18, 24 and padding equal to the dilation (so the output keeps the feature
resolution); their outputs are **summed**. Initialisation as the original's
(``core/models/classifier.py``, ``ASPP_Classifier_V2.__init__``): it draws the kernels from
N(0, 0.01) and leaves the biases at ``nn.Conv2d``'s default U(±1/sqrt(fan_in)), fan_in =
9 · in_channels (±0.0074 for ResNet's 2048 channels, ±0.0104 for VGG's 1024). Here conv ``i``'s
kernel is seeded ``seed + i`` and its bias ``seed + len(dilations) + i``; the bias bound is set
when the layer is built, once the input channels are known.

The convs are named ``conv2d_list.<i>`` like the original's modules, so the key
``conv2d_list.<i>.weight`` maps onto the Keras variable ``aspp/conv2d_list.<i>/kernel``. The
layer's default name ``aspp`` is what the optimiser matches to give the head its larger
learning rate.

Two ways to compute the same sum (``method``): ``"dilated"`` runs the four dilated convolutions
as they are; ``"tap_products"`` uses that a 3x3 convolution with dilation d is the sum over its
nine taps (i, j) of a 1x1 convolution of the input shifted by ((i − 1)·d, (j − 1)·d), zero
outside: one 1x1 convolution (a single matrix product) computes every tap of all four branches
at once, then the shifted 19-channel products are added, and taps whose offset is at least the
map's size see only padding and are skipped. Tap products were measured 3–7x faster forward +
backward than four dilated convolutions with 19 output channels on CPUs
(``bench/aspp_speed.py``); nothing was measured on GPUs, where cuDNN's dilated convolutions may
win, so ``resolve_aspp_method("auto")`` picks them when a GPU is visible. Tap products need the
feature map's size: with an unknown size (exported graphs with dynamic height and width) the
dilated convolutions run whatever the method.
"""

import keras
from keras import ops

from fada_tf.models.torch_conv import torch_default_bias

METHODS = ("dilated", "tap_products")


def resolve_aspp_method(method: str) -> str:
    """``model.aspp_method`` as the layer takes it: ``"auto"`` is ``"dilated"`` when Keras sees a
    GPU (the standard where nothing was measured), else ``"tap_products"`` (measured faster on
    CPUs); the other two are themselves."""
    if method == "auto":
        return "dilated" if keras.distribution.list_devices("gpu") else "tap_products"
    if method not in METHODS:
        raise ValueError(f"ASPP method {method!r} is not one of auto, {', '.join(METHODS)}")
    return method


@keras.saving.register_keras_serializable(package="fada_tf")
class AsppClassifierV2(keras.layers.Layer):
    """Sum of dilated 3x3 convs to ``num_classes`` channels.

    Conv ``i``: kernel N(0, 0.01) seeded ``seed + i``, bias U(±1/sqrt(9 · in_channels))
    seeded ``seed + len(dilations) + i``. ``method``: ``"dilated"`` or ``"tap_products"``.
    """

    def __init__(self, num_classes, dilations=(6, 12, 18, 24), seed=0, method="dilated",
                 name="aspp", **kwargs):
        super().__init__(name=name, **kwargs)
        if method not in METHODS:
            raise ValueError(f"ASPP method {method!r} is not one of {', '.join(METHODS)}")
        self.num_classes = num_classes
        self.dilations = tuple(dilations)
        self.seed = seed
        self.method = method
        self.convs = [
            keras.layers.Conv2D(
                num_classes, 3, dilation_rate=dilation, padding="same", use_bias=True,
                kernel_initializer=keras.initializers.RandomNormal(0.0, 0.01, seed=seed + index),
                name=f"conv2d_list.{index}")
            for index, dilation in enumerate(self.dilations)]

    def build(self, input_shape):
        fan_in = 9 * input_shape[-1]
        for index, conv in enumerate(self.convs):
            conv.bias_initializer = torch_default_bias(fan_in, self.seed + len(self.convs) + index)
            conv.build(input_shape)

    def call(self, features):
        height, width = features.shape[1], features.shape[2]
        if self.method == "dilated" or height is None or width is None:
            return self.dilated_convs(features)
        return self.tap_products(features, height, width)

    def dilated_convs(self, features):
        """The four dilated convolutions, summed (any feature size)."""
        logits = self.convs[0](features)
        for conv in self.convs[1:]:
            logits = logits + conv(features)
        return logits

    def tap_products(self, features, height: int, width: int):
        """The same sum from one 1x1 convolution to every live tap, then shifted additions."""
        taps = [(conv.kernel[i, j], (i - 1) * dilation, (j - 1) * dilation)
                for conv, dilation in zip(self.convs, self.dilations)
                for i in range(3) for j in range(3)
                if abs(i - 1) * dilation < height and abs(j - 1) * dilation < width]
        kernel = ops.concatenate([tap for tap, _, _ in taps], axis=-1)[None, None]
        products = ops.conv(features, kernel)
        logits = sum(conv.bias for conv in self.convs)
        k = self.num_classes
        for index, (_, dy, dx) in enumerate(taps):
            logits = logits + _shifted(products[..., index * k:(index + 1) * k], dy, dx, height, width)
        return logits

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.num_classes)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes,
                "dilations": list(self.dilations), "seed": self.seed,
                "method": self.method}


def _shifted(maps, dy: int, dx: int, height: int, width: int):
    """``out[y, x] = maps[y + dy, x + dx]``, zero where that falls outside the map."""
    inside = maps[:, max(dy, 0):height + min(dy, 0), max(dx, 0):width + min(dx, 0)]
    return ops.pad(inside, [[0, 0], [max(-dy, 0), max(dy, 0)], [max(-dx, 0), max(dx, 0)], [0, 0]])
