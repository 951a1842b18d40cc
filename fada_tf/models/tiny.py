"""A small dilated residual network with the backbone contract, for CPU runs and tests.

Not part of the paper: it stands in for ResNet-101 on the synthetic domain shift, keeping what
matters for FADA's mechanics, i.e. a stride-8 feature map produced by dilated residual stages
with BatchNorm. Each stage is one residual block of two 3x3 convs (3x3 -> BN -> ReLU -> 3x3 ->
BN, plus a 1x1 conv + BN projection shortcut when the shape changes, add, ReLU). With
C = ``width``:

=========  ====================  ==========  ========  ===============
layer      convs (out channels)  stride      dilation  output stride
=========  ====================  ==========  ========  ===============
``conv1``  C, + ``bn1``, ReLU    2           1         2
layer1.0   2C, 2C                2           1         4
layer2.0   4C, 4C                2           1         8
layer3.0   4C, 4C                1           2         8
layer4.0   4C, 8C                1           4         8
=========  ====================  ==========  ========  ===============

The last block widens in its *second* conv (torchvision's BasicBlock would widen in the
first): an 8C -> 8C dilated conv alone cost about a third of the network's time on a 2-core
CPU; this brings forward + backward at 64x128, batch 16, width 32 from about 90 ms to about
60 ms. Layer names follow the ResNet module's scheme (``layer2.0.conv1``,
``layer1.0.downsample.0``).
"""

import itertools

import keras

from fada_tf.models.resnet import batch_norm_layer
from fada_tf.models.torch_conv import conv2d, he_normal_fan_out


def _residual_block(x, mid_filters, filters, *, stride, dilation, norm, seeds, name):
    """Two 3x3 convs (stride on the first, dilation on both) and a residual connection."""
    shortcut = x
    y = conv2d(x, mid_filters, 3, stride=stride, dilation=dilation, name=f"{name}.conv1",
               kernel_initializer=he_normal_fan_out(next(seeds)))
    y = norm(name=f"{name}.bn1")(y)
    y = keras.layers.ReLU(name=f"{name}.relu1")(y)
    y = conv2d(y, filters, 3, dilation=dilation, name=f"{name}.conv2",
               kernel_initializer=he_normal_fan_out(next(seeds)))
    y = norm(name=f"{name}.bn2")(y)
    if stride != 1 or x.shape[-1] != filters:
        shortcut = conv2d(x, filters, 1, stride=stride, name=f"{name}.downsample.0",
                          kernel_initializer=he_normal_fan_out(next(seeds)))
        shortcut = norm(name=f"{name}.downsample.1")(shortcut)
    y = keras.layers.Add(name=f"{name}.add")([y, shortcut])
    return keras.layers.ReLU(name=f"{name}.out")(y)


def build_tiny_backbone(width: int = 32, freeze_bn: bool = False, seed: int = 0,
                        name: str = "backbone") -> keras.Model:
    """Build the tiny backbone: image -> stride-8 features with ``8 * width`` channels.

    Convs are He normal (fan_out) with seed ``seed + i`` for the i-th conv; BN is trainable
    unless ``freeze_bn``.
    """
    norm = batch_norm_layer(freeze_bn)
    seeds = itertools.count(seed)
    image = keras.Input((None, None, 3), name="image")
    x = conv2d(image, width, 3, stride=2, name="conv1",
               kernel_initializer=he_normal_fan_out(next(seeds)))
    x = norm(name="bn1")(x)
    x = keras.layers.ReLU(name="relu")(x)
    stages = ((2, 2, 2, 1), (4, 4, 2, 1), (4, 4, 1, 2), (4, 8, 1, 4))
    for index, (mid, out, stride, dilation) in enumerate(stages, start=1):
        x = _residual_block(x, mid * width, out * width, stride=stride, dilation=dilation,
                            norm=norm, seeds=seeds, name=f"layer{index}.0")
    return keras.Model(image, x, name=name)
