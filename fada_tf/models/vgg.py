"""DeepLabV2-VGG16 backbone as built by the original FADA.

FADA takes torchvision's ``vgg16().features`` (13 3x3 convs with bias, each followed by ReLU,
2x2 max-pools after every block), removes pool4 and pool5, dilates the three conv5 convs by 2
(padding 2) and appends ``fc6`` and ``fc7``: 3x3 convs to 1024 channels with dilation 4
(padding 4), each followed by ReLU. Output: 1024 channels at stride 8.

Keras layer names and their torch counterparts (``features.N`` in torchvision's vgg16;
``backbone.N`` in FADA's ``vgg_feature_extractor``, whose Sequential is re-indexed after
pool4 is dropped):

===========  ===========  ============  ===========  ===========  ============
Keras        torchvision  FADA          Keras        torchvision  FADA
===========  ===========  ============  ===========  ===========  ============
conv1_1      features.0   backbone.0    conv4_1      features.17  backbone.17
conv1_2      features.2   backbone.2    conv4_2      features.19  backbone.19
conv2_1      features.5   backbone.5    conv4_3      features.21  backbone.21
conv2_2      features.7   backbone.7    conv5_1      features.24  backbone.23
conv3_1      features.10  backbone.10   conv5_2      features.26  backbone.25
conv3_2      features.12  backbone.12   conv5_3      features.28  backbone.27
conv3_3      features.14  backbone.14   fc6          --           backbone.29
                                        fc7          --           backbone.31
===========  ===========  ============  ===========  ===========  ============

Weight-free layers: ``relu<b>_<i>``, ``pool1``..``pool3``, ``relu6``, ``relu7``.
Initialisation: the VGG convs as torchvision (He normal fan_out, zero bias); fc6/fc7 are fresh
``nn.Conv2d`` in FADA, so they get torch's default init (U(±1/sqrt(fan_in)) kernel and bias).
Each initialiser, in build order, takes the next seed of ``seed``, ``seed + 1``, ...
"""

import itertools

import keras

from fada_tf.models.torch_conv import (conv2d, he_normal_fan_out, torch_default_bias,
                                       torch_default_kernel)

# (channels, number of convs, dilation, followed by a max-pool) for conv1..conv5.
BLOCKS = ((64, 2, 1, True), (128, 2, 1, True), (256, 3, 1, True), (512, 3, 1, False),
          (512, 3, 2, False))
FC_CHANNELS = 1024
FC_DILATION = 4


def build_dilated_vgg16(seed: int = 0, name: str = "backbone") -> keras.Model:
    """Build DeepLabV2-VGG16: image -> fc7 features (1024 channels, stride 8)."""
    seeds = itertools.count(seed)
    image = keras.Input((None, None, 3), name="image")
    x = image
    for block, (channels, convs, dilation, pool) in enumerate(BLOCKS, start=1):
        for index in range(1, convs + 1):
            x = conv2d(x, channels, 3, dilation=dilation, use_bias=True,
                       name=f"conv{block}_{index}",
                       kernel_initializer=he_normal_fan_out(next(seeds)))
            x = keras.layers.ReLU(name=f"relu{block}_{index}")(x)
        if pool:
            x = keras.layers.MaxPooling2D(2, strides=2, name=f"pool{block}")(x)
    for layer in ("fc6", "fc7"):
        fan_in = 9 * x.shape[-1]
        x = conv2d(x, FC_CHANNELS, 3, dilation=FC_DILATION, use_bias=True, name=layer,
                   kernel_initializer=torch_default_kernel(next(seeds)),
                   bias_initializer=torch_default_bias(fan_in, next(seeds)))
        x = keras.layers.ReLU(name=f"relu{layer[2:]}")(x)
    return keras.Model(image, x, name=name)
