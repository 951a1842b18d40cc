"""ImageNet initialisation of a backbone from ``keras.applications`` weights.

The paper initialises its backbones from torchvision's ImageNet models. Those are PyTorch
files; this module offers the closest Keras-native substitute, the ``keras.applications``
ResNet50 / ResNet101 / VGG16 weights, either downloaded (``source="imagenet"``) or read from a
local ``*_notop.h5`` file (``source=<path>``). Differences from the paper's initialisation:

* **Stride placement.** keras.applications ResNets are Caffe-style ("v1"): a stage's first
  block puts its stride on the first 1x1 conv, torchvision ("v1.5") on the 3x3 conv. The
  kernels have the same shapes and transfer one-to-one, but in the one strided block
  (``layer2.0``; layer3/layer4 are dilated, stride 1) the network computes a different
  function from the ImageNet-trained one. The stem and ``layer1`` compute exactly the same.
  This is a good initialisation, not the paper's exact one.
* **Conv biases and BN epsilon.** keras.applications ResNet convs have biases and their BN
  uses epsilon 1.001e-5; ours have no conv bias and FrozenBatchNorm has no epsilon (Keras BN
  here uses 1e-5). Both fold exactly into the BN statistics: with conv bias ``b``,
  ``moving_mean' = moving_mean - b``, and ``moving_variance' = moving_variance + eps_source -
  eps_target`` (``eps_target`` = 0 for FrozenBatchNorm).
* **Preprocessing.** keras.applications ResNets and VGG16 were trained on "caffe" inputs (BGR,
  0..255, ImageNet mean subtracted, no std scaling); this project feeds RGB in [0, 1]
  normalised with the ImageNet mean/std (the torchvision convention). The first conv
  therefore sees differently scaled, channel-swapped inputs; fine-tuning absorbs it, but the
  features are not the ImageNet ones at the start.
* **VGG16.** ``block<b>_conv<i>`` (kernel and bias) maps to our ``conv<b>_<i>``; conv5's
  kernels are used with dilation 2 (pool4 is removed, as in DeepLabV2). ``fc6``/``fc7`` and the
  ASPP head keep their random initialisation, as in the paper.

The paper's exact torchvision initialisation is ``fada-tf convert torch --imagenet``
(``fada_tf.convert``), which reads torchvision's own checkpoints. Here, every target weight is
assigned exactly once and every source weight is used; anything else is an error listing the
names.
"""

import collections
import os
import re

import keras
import numpy as np

from fada_tf.errors import FadaError
from fada_tf.models.frozen_batch_norm import FrozenBatchNorm

# Backbone name -> (keras.applications constructor, ImageNet "notop" weights file name).
APPLICATIONS = {
    "resnet50": ("ResNet50", "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    "resnet101": ("ResNet101", "resnet101_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    "vgg16": ("VGG16", "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"),
}
# Layers of our backbones that keras.applications has no weights for (left random).
RANDOM_LAYERS = {"vgg16": ("fc6", "fc7")}


def load_imagenet_weights(backbone: keras.Model, name: str, source: str) -> None:
    """Initialise ``backbone`` (built for ``name``) from keras.applications ImageNet weights.

    ``source`` is ``"imagenet"`` (download through keras.applications) or the path of the
    matching ``*_notop.h5`` file. Raises FadaError for a missing/unreadable file, a failed
    download or a backbone without ImageNet weights.
    """
    if name not in APPLICATIONS:
        raise FadaError(f"model.pretrained: there are no ImageNet weights for the {name} "
                        f"backbone (choose one of {sorted(APPLICATIONS)} or pretrained: none)")
    constructor_name, file_name = APPLICATIONS[name]
    constructor = getattr(keras.applications, constructor_name)
    if source == "imagenet":
        try:
            source_model = constructor(weights="imagenet", include_top=False)
        except Exception as error:  # keras' get_file raises a bare Exception on fetch failures
            raise FadaError(
                f"downloading the keras.applications {constructor_name} ImageNet weights "
                f"failed ({error}); download {file_name} on a machine with network access "
                "(keras keeps it in ~/.keras/models/) and set model.pretrained to its path") from error
    else:
        if not os.path.isfile(source):
            raise FadaError(f"model.pretrained: weights file not found: {source}")
        try:
            source_model = constructor(weights=source, include_top=False)
        except (ValueError, OSError, KeyError) as error:
            raise FadaError(f"model.pretrained: could not load {source} into keras.applications "
                            f"{constructor_name} (expected {file_name}): {error}") from error
    transfer_keras_applications_weights(source_model, backbone, name)


def transfer_keras_applications_weights(source: keras.Model, backbone: keras.Model,
                                        name: str) -> None:
    """Copy the weights of a keras.applications model (``include_top=False``) into ``backbone``."""
    plan = {"resnet50": _resnet_plan, "resnet101": _resnet_plan, "vgg16": _vgg16_plan}[name]
    _apply(plan(source, backbone), source, backbone, RANDOM_LAYERS.get(name, ()))


def _resnet_target(source_name):
    """Map a keras.applications ResNet layer name to ours (None if it is not a conv/BN).

    ``conv1_conv`` -> ``conv1``, ``conv3_block1_2_bn`` -> ``layer2.0.bn2``,
    ``conv3_block1_0_conv`` -> ``layer2.0.downsample.0``.
    """
    if source_name == "conv1_conv":
        return "conv1"
    if source_name == "conv1_bn":
        return "bn1"
    match = re.fullmatch(r"conv(\d)_block(\d+)_(\d)_(conv|bn)", source_name)
    if match is None:
        return None
    stage, block, index, kind = match.groups()
    prefix = f"layer{int(stage) - 1}.{int(block) - 1}"
    if index == "0":
        return f"{prefix}.downsample.{0 if kind == 'conv' else 1}"
    return f"{prefix}.{kind}{index}"


def _resnet_plan(source, backbone):
    """(target variable, value, source variables) for every conv + BN pair, biases folded."""
    plan = []
    for conv in source.layers:
        if not isinstance(conv, keras.layers.Conv2D):
            continue
        bn = source.get_layer(conv.name[:-len("conv")] + "bn")
        target_conv = _target_layer(backbone, _resnet_target(conv.name), conv.name)
        target_bn = _target_layer(backbone, _resnet_target(bn.name), bn.name)
        target_epsilon = 0.0 if isinstance(target_bn, FrozenBatchNorm) else target_bn.epsilon
        bias = conv.bias.numpy()
        plan += [
            (target_conv.kernel, conv.kernel.numpy(), [conv.kernel]),
            (target_bn.gamma, bn.gamma.numpy(), [bn.gamma]),
            (target_bn.beta, bn.beta.numpy(), [bn.beta]),
            (target_bn.moving_mean, bn.moving_mean.numpy() - bias, [bn.moving_mean, conv.bias]),
            (target_bn.moving_variance,
             bn.moving_variance.numpy() + (bn.epsilon - target_epsilon), [bn.moving_variance]),
        ]
    return plan


def _vgg16_plan(source, backbone):
    """``block<b>_conv<i>`` -> ``conv<b>_<i>``, kernel and bias unchanged."""
    plan = []
    for conv in source.layers:
        if not isinstance(conv, keras.layers.Conv2D):
            continue
        match = re.fullmatch(r"block(\d)_conv(\d)", conv.name)
        target = _target_layer(backbone, match and f"conv{match[1]}_{match[2]}", conv.name)
        plan += [(target.kernel, conv.kernel.numpy(), [conv.kernel]),
                 (target.bias, conv.bias.numpy(), [conv.bias])]
    return plan


def _target_layer(backbone, target_name, source_name):
    if target_name not in {layer.name for layer in backbone.layers}:
        raise FadaError(f"keras.applications layer {source_name} has no counterpart "
                        f"({target_name or 'unknown name'}) in the backbone")
    return backbone.get_layer(target_name)


def _apply(plan, source, backbone, random_layers):
    """Check the plan covers both models exactly once, then assign."""
    assigned = collections.Counter(target.path for target, _, _ in plan)
    duplicates = sorted(path for path, count in assigned.items() if count > 1)
    if duplicates:
        raise FadaError(f"backbone weights assigned more than once: {', '.join(duplicates)}")
    random_weights = {id(w) for name in random_layers for w in backbone.get_layer(name).weights}
    missing = sorted({w.path for w in backbone.weights if id(w) not in random_weights}
                     - set(assigned))
    if missing:
        raise FadaError(f"backbone weights without an ImageNet value: {', '.join(missing)}")
    used = {id(w) for _, _, sources in plan for w in sources}
    unused = sorted(w.path for w in source.weights if id(w) not in used)
    if unused:
        raise FadaError(f"keras.applications weights left unused: {', '.join(unused)}")
    for target, value, sources in plan:
        if tuple(target.shape) != value.shape:
            raise FadaError(f"shape mismatch: {sources[0].path} {value.shape} -> "
                            f"{target.path} {tuple(target.shape)}")
    for target, value, _ in plan:
        target.assign(value.astype(np.float32))
