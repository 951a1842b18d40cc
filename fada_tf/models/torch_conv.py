"""Convolutions with PyTorch's padding and seeded PyTorch-like initialisation.

``nn.Conv2d(padding=p)`` pads ``p`` zeros on *every* side. Keras ``padding="same"`` matches
that only at stride 1 (odd kernel, padding = dilation * (kernel - 1) / 2); at stride 2 it pads
bottom/right only, which shifts the sampling grid by one pixel and breaks checkpoint parity. A
strided convolution is therefore an explicit symmetric ``ZeroPadding2D`` followed by a
``"valid"`` convolution.

A Keras initialiser with an integer seed returns the same values every time it is called, so
sharing one instance between layers would give every same-shaped layer identical weights; the
builders call these functions once per layer with their own seed.
"""

import math

import keras


def he_normal_fan_out(seed):
    """torchvision's ResNet/VGG conv init, ``kaiming_normal_(mode="fan_out", nonlinearity="relu")``.

    An untruncated normal with std ``sqrt(2 / (kernel_h * kernel_w * out_channels))``.
    """
    return keras.initializers.VarianceScaling(
        scale=2.0, mode="fan_out", distribution="untruncated_normal", seed=seed)


def torch_default_kernel(seed):
    """``nn.Conv2d``'s default kernel init, ``kaiming_uniform_(a=sqrt(5))``: U(±1/sqrt(fan_in))."""
    return keras.initializers.VarianceScaling(
        scale=1.0 / 3.0, mode="fan_in", distribution="uniform", seed=seed)


def torch_default_bias(fan_in, seed):
    """``nn.Conv2d``'s default bias init: U(±1/sqrt(fan_in)), fan_in = k_h * k_w * in_channels."""
    bound = 1.0 / math.sqrt(fan_in)
    return keras.initializers.RandomUniform(-bound, bound, seed=seed)


def conv2d(x, filters, kernel_size, *, name, kernel_initializer, stride=1, dilation=1,
           use_bias=False, bias_initializer="zeros"):
    """Apply ``nn.Conv2d(kernel_size, stride, padding=dilation*(kernel_size-1)//2, dilation)``.

    Stride 1 uses symmetric ``"same"`` padding; a larger stride adds a ``ZeroPadding2D`` layer
    named ``name + "_pad"`` before a ``"valid"`` convolution named ``name``.
    """
    padding = dilation * (kernel_size - 1) // 2
    if stride > 1 and padding > 0:
        x = keras.layers.ZeroPadding2D(padding, name=f"{name}_pad")(x)
    return keras.layers.Conv2D(
        filters, kernel_size, strides=stride, dilation_rate=dilation,
        padding="same" if stride == 1 else "valid", use_bias=use_bias,
        kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
        name=name)(x)
