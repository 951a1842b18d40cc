"""FADA's fine-grained discriminator (paper section 4.3, the original's ``PixelDiscriminator``).

A fully convolutional network on the backbone features: 3x3 conv (stride 1, padding 1)
``in_channels -> 256`` -> LeakyReLU(0.2) -> 3x3 conv ``256 -> 128`` -> LeakyReLU(0.2) -> two
3x3 convs ``128 -> K`` (``cls1``: source, ``cls2``: target) concatenated into 2K logits per
pixel: channels ``[0, K)`` are "domain = source, class = k", ``[K, 2K)`` "domain = target,
class = k". Two K-channel convs equal one 2K-channel conv; keeping them separate maps the
original's checkpoint one-to-one (Keras layer ``D.0``, ``D.2``, ``cls1``, ``cls2`` <-> torch
``D.0``, ``D.2``, ``cls1``, ``cls2``).

The output stays at the feature resolution; ``discriminator_logits`` upsamples it to the image
size with bilinear ``align_corners=True``, as the reference does before its losses.

Initialisation: torch's ``nn.Conv2d`` default (the original does not re-initialise D): kernel
and bias U(±1/sqrt(9 * in_channels)); conv ``i`` uses seeds ``seed + 2i`` (kernel) and
``seed + 2i + 1`` (bias).
"""

import itertools

import keras

from fada_tf.models.resize import upsample_logits
from fada_tf.models.torch_conv import torch_default_bias, torch_default_kernel

NEGATIVE_SLOPE = 0.2


def _conv(x, filters, name, seeds):
    """A 3x3 "same" conv with torch's default init, drawing two seeds (kernel, bias)."""
    fan_in = 9 * x.shape[-1]
    return keras.layers.Conv2D(
        filters, 3, padding="same", use_bias=True, name=name,
        kernel_initializer=torch_default_kernel(next(seeds)),
        bias_initializer=torch_default_bias(fan_in, next(seeds)))(x)


def build_discriminator(in_channels: int, num_classes: int, channels=(256, 128),
                        seed: int = 0) -> keras.Model:
    """Build D: features (N, h, w, in_channels) -> logits (N, h, w, 2 * num_classes)."""
    seeds = itertools.count(seed)
    features = keras.Input((None, None, in_channels), name="features")
    x = features
    for index, filters in enumerate(channels):
        x = _conv(x, filters, f"D.{2 * index}", seeds)
        x = keras.layers.LeakyReLU(NEGATIVE_SLOPE, name=f"D.{2 * index + 1}")(x)
    source = _conv(x, num_classes, "cls1", seeds)
    target = _conv(x, num_classes, "cls2", seeds)
    logits = keras.layers.Concatenate(name="logits")([source, target])
    return keras.Model(features, logits, name="discriminator")


def discriminator_logits(discriminator, features, size):
    """Run D on ``features`` and upsample its 2K logits, in float32, to ``size`` = (height, width)."""
    return upsample_logits(discriminator(features), size)
