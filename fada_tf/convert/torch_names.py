"""The PyTorch key of every weight of fada-tf's segmentor and discriminator.

fada-tf's layers carry the original's module names (see the docstrings of
``fada_tf.models.resnet``, ``vgg``, ``aspp`` and ``discriminator``), so a torch key is
``<module>.<parameter>``:

* Conv2D ``kernel`` (HWIO) / ``bias`` <-> ``weight`` (OIHW) / ``bias``;
* BatchNorm (``FrozenBatchNorm``, ``TorchBatchNorm`` or Keras') ``gamma`` / ``beta`` /
  ``moving_mean`` / ``moving_variance`` <-> ``weight`` / ``bias`` / ``running_mean`` / ``running_var``.

Module names per checkpoint layout:

=====================  =====================================  ================================
fada-tf                FADA checkpoint                        torchvision ImageNet checkpoint
=====================  =====================================  ================================
ResNet layer ``L``     ``feature_extractor:backbone.L``       ``L``
VGG layer ``conv4_1``  ``feature_extractor:backbone.17``      ``features.17`` (VGG16_MODULES)
VGG ``fc6``, ``fc7``   ``feature_extractor:backbone.29/31``   -- (kept as initialised)
ASPP ``conv2d_list.i`` ``classifier:conv2d_list.i``           -- (kept as initialised)
D layer ``L``          ``model_D:L``                          --
=====================  =====================================  ================================
"""

from __future__ import annotations

import keras

from fada_tf.convert.torch_file import DISCRIMINATOR_SECTION
from fada_tf.models.frozen_batch_norm import FrozenBatchNorm
from fada_tf.models.torch_batch_norm import TorchBatchNorm

# Keras BatchNorm weight -> torch BatchNorm parameter or buffer.
BATCH_NORM = {"gamma": "weight", "beta": "bias", "moving_mean": "running_mean",
              "moving_variance": "running_var"}
# VGG layer -> (index in torchvision's vgg16().features, index in FADA's backbone Sequential,
# which drops pool4 and pool5 and appends fc6, ReLU, fc7, ReLU); fada_tf.models.vgg's table.
VGG16_MODULES = {
    "conv1_1": (0, 0), "conv1_2": (2, 2), "conv2_1": (5, 5), "conv2_2": (7, 7),
    "conv3_1": (10, 10), "conv3_2": (12, 12), "conv3_3": (14, 14),
    "conv4_1": (17, 17), "conv4_2": (19, 19), "conv4_3": (21, 21),
    "conv5_1": (24, 23), "conv5_2": (26, 25), "conv5_3": (28, 27),
    "fc6": (None, 29), "fc7": (None, 31),
}


def segmentor_keys(segmentor: keras.Model, backbone_name: str, imagenet: bool) -> dict:
    """Torch key -> Keras variable for the segmentor.

    ``imagenet=False``: every weight, FADA layout. ``imagenet=True``: the weights that a
    torchvision ImageNet checkpoint provides (not fc6/fc7, not the ASPP head).
    """
    keys = {}
    for layer in segmentor.get_layer("backbone").layers:
        module = layer.weights and _backbone_module(layer.name, backbone_name, imagenet)
        if module:
            keys.update(_layer_keys(layer, module))
    if not imagenet:
        for conv in segmentor.get_layer("aspp").convs:
            keys.update(_layer_keys(conv, f"classifier:{conv.name}"))
    return keys


def discriminator_keys(discriminator: keras.Model) -> dict:
    """Torch key -> Keras variable for the discriminator (``model_D:D.0.weight``, ...)."""
    keys = {}
    for layer in discriminator.layers:
        keys.update(_layer_keys(layer, f"{DISCRIMINATOR_SECTION}:{layer.name}"))
    return keys


def _backbone_module(layer_name: str, backbone_name: str, imagenet: bool) -> str | None:
    """The torch module of a backbone layer with weights; None if the checkpoint has none."""
    if backbone_name != "vgg16":
        return layer_name if imagenet else f"feature_extractor:backbone.{layer_name}"
    torchvision_index, fada_index = VGG16_MODULES[layer_name]
    if imagenet:
        return None if torchvision_index is None else f"features.{torchvision_index}"
    return f"feature_extractor:backbone.{fada_index}"


def _layer_keys(layer, module: str) -> dict:
    """Torch key -> variable of one conv or BN layer."""
    if isinstance(layer, keras.layers.Conv2D):
        keys = {f"{module}.weight": layer.kernel}
        if layer.use_bias:
            keys[f"{module}.bias"] = layer.bias
        return keys
    if isinstance(layer, (FrozenBatchNorm, TorchBatchNorm, keras.layers.BatchNormalization)):
        return {f"{module}.{torch_name}": getattr(layer, keras_name)
                for keras_name, torch_name in BATCH_NORM.items()}
    if layer.weights:
        raise TypeError(f"no torch counterpart known for the weights of layer {layer.name} "
                        f"({type(layer).__name__})")
    return {}
