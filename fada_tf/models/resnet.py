"""Dilated ResNet-50/101 backbone of DeepLabV2, with torchvision's layer conventions.

The original FADA builds torchvision's ResNet with ``replace_stride_with_dilation=[False, True,
True]`` and returns ``layer4`` (2048 channels, output stride 8). This module reproduces it
layer for layer so that a torchvision or FADA state dict maps one-to-one:

* stem: ``conv1`` 7x7 stride 2 padding 3 (no bias), ``bn1``, ReLU, ``maxpool`` 3x3 stride 2
  padding 1 (zero padding after a ReLU equals torch's -inf padding);
* Bottleneck (torchvision "ResNet v1.5"): ``conv1`` 1x1 -> ``bn1`` -> ReLU -> ``conv2`` 3x3
  carrying the block's stride and dilation -> ``bn2`` -> ReLU -> ``conv3`` 1x1 (4x width) ->
  ``bn3``; the first block of every layer has ``downsample`` = 1x1 conv (with the stride) + BN;
  residual add, ReLU;
* ``layer2`` has stride 2; ``layer3``/``layer4`` trade their stride for dilation the torchvision
  way: the *first* block keeps the previous dilation (layer3: 1, then 2; layer4: 2, then 4)
  and the downsample conv has stride 1.

Keras layer names are the torch module names, so torch key ``<module>.<param>`` belongs to the
Keras layer ``<module>``: ``conv1``, ``bn1``, ``layer3.5.conv2``, ``layer1.0.downsample.0``
(conv), ``layer1.0.downsample.1`` (BN). Conv ``weight`` -> ``kernel`` (transposed OIHW -> HWIO);
BN ``weight``/``bias``/``running_mean``/``running_var`` -> ``gamma``/``beta``/``moving_mean``/
``moving_variance``. Weight-free layers carry derived names (``layer2.0.conv2_pad``,
``layer1.0.relu1``, ``layer1.0.add``, ``layer1.0.out``).
"""

import itertools

import keras

from fada_tf.models.frozen_batch_norm import FrozenBatchNorm
from fada_tf.models.torch_batch_norm import TorchBatchNorm
from fada_tf.models.torch_conv import conv2d, he_normal_fan_out

BLOCKS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}
EXPANSION = 4


def batch_norm_layer(freeze_bn):
    """The BN layer class: FrozenBatchNorm, or TorchBatchNorm (``nn.BatchNorm2d``'s rule).

    The original (``core/models/feature_extractor.py``) builds its ResNet with
    ``FrozenBatchNorm2d`` when ``MODEL.FREEZE_BN`` is set and ``nn.BatchNorm2d`` (eps 1e-5,
    momentum 0.1, running variance updated with the unbiased batch variance, synchronised
    over GPUs) otherwise; ``TorchBatchNorm`` implements the latter, which Keras'
    ``BatchNormalization`` does not (see ``fada_tf.models.torch_batch_norm``). The tiny
    backbone uses the same choice.
    """
    return FrozenBatchNorm if freeze_bn else TorchBatchNorm


def _bottleneck(x, planes, *, stride, dilation, downsample, norm, seeds, name):
    """torchvision's Bottleneck: the stride and the dilation sit on the 3x3 conv."""
    shortcut = x
    y = conv2d(x, planes, 1, name=f"{name}.conv1",
               kernel_initializer=he_normal_fan_out(next(seeds)))
    y = norm(name=f"{name}.bn1")(y)
    y = keras.layers.ReLU(name=f"{name}.relu1")(y)
    y = conv2d(y, planes, 3, stride=stride, dilation=dilation, name=f"{name}.conv2",
               kernel_initializer=he_normal_fan_out(next(seeds)))
    y = norm(name=f"{name}.bn2")(y)
    y = keras.layers.ReLU(name=f"{name}.relu2")(y)
    y = conv2d(y, planes * EXPANSION, 1, name=f"{name}.conv3",
               kernel_initializer=he_normal_fan_out(next(seeds)))
    y = norm(name=f"{name}.bn3")(y)
    if downsample:
        shortcut = conv2d(x, planes * EXPANSION, 1, stride=stride, name=f"{name}.downsample.0",
                          kernel_initializer=he_normal_fan_out(next(seeds)))
        shortcut = norm(name=f"{name}.downsample.1")(shortcut)
    y = keras.layers.Add(name=f"{name}.add")([y, shortcut])
    return keras.layers.ReLU(name=f"{name}.out")(y)


def build_dilated_resnet(depth: int, freeze_bn: bool = True, seed: int = 0,
                         name: str = "backbone") -> keras.Model:
    """Build the dilated ResNet-``depth`` (50 or 101): image -> layer4 features at stride 8.

    Convs are initialised like torchvision (He normal, fan_out), layer ``i`` (in build order)
    with seed ``seed + i``; BN starts at gamma 1, beta 0, mean 0, variance 1.
    """
    if depth not in BLOCKS:
        raise ValueError(f"ResNet depth must be one of {sorted(BLOCKS)}, got {depth}")
    norm = batch_norm_layer(freeze_bn)
    seeds = itertools.count(seed)
    image = keras.Input((None, None, 3), name="image")
    x = conv2d(image, 64, 7, stride=2, name="conv1",
               kernel_initializer=he_normal_fan_out(next(seeds)))
    x = norm(name="bn1")(x)
    x = keras.layers.ReLU(name="relu")(x)
    x = keras.layers.ZeroPadding2D(1, name="maxpool_pad")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, name="maxpool")(x)
    dilation = 1
    stages = zip((64, 128, 256, 512), BLOCKS[depth], (1, 2, 2, 2), (False, False, True, True))
    for layer_index, (planes, blocks, stride, dilate) in enumerate(stages, start=1):
        first_dilation = dilation
        if dilate:
            dilation *= stride
            stride = 1
        for block in range(blocks):
            x = _bottleneck(
                x, planes, stride=stride if block == 0 else 1,
                dilation=first_dilation if block == 0 else dilation, downsample=block == 0,
                norm=norm, seeds=seeds, name=f"layer{layer_index}.{block}")
    return keras.Model(image, x, name=name)
