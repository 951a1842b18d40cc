"""ImageNet initialisation from ``keras.applications`` weights, and how exact each path is.

``model.pretrained`` (dispatched by ``fada_tf.models.pretrained``) has four sources of ImageNet
weights. How close each comes to the original's initialisation (torchvision's
``resnet101-5d3b4d8f.pth`` / ``resnet50-19c8e357.pth`` fed RGB mean/std input; the
Caffe-converted ``vgg16-00b39a1b.pth`` fed BGR 0..255 mean-subtracted input):

* **the original's ``.pth`` and its converted ``.weights.h5``: exact.** The same tensors in the
  same layers (``fada_tf.convert``); ``model.normalization`` must be the file's own input
  convention (torchvision ResNets: the default; Caffe VGG-16: ``to_bgr255: true``, mean
  ``CAFFE_MEAN``, std 1, as the original's VGG configs).
* **keras.applications VGG16 (``imagenet`` or ``vgg16_*_notop.h5``): exact up to the border**
  of the first conv once the input normalisation is folded into it (below). Its weights are a
  conversion of the same Caffe-trained VGG-16 as the original's file (converted separately;
  the two files have not been compared here).
* **keras.applications ResNet50/101: not exact**, fold or not. They are Caffe-style ("v1"): a
  stage's first block puts its stride on the first 1x1 conv, torchvision ("v1.5") on the 3x3.
  The kernels have the same shapes and transfer one-to-one, but in the one strided block
  (``layer2.0``; layer3/layer4 are dilated, stride 1) the network computes a different function
  from the ImageNet-trained one, and they are other weights than torchvision's anyway. The stem
  and ``layer1`` compute exactly the keras.applications functions. A good initialisation, not
  the paper's.

Details of the keras.applications transfer:

* **Conv biases and BN epsilon.** keras.applications ResNet convs have biases and their BN uses
  epsilon 1.001e-5; ours have no conv bias and FrozenBatchNorm has no epsilon (a trainable BN
  layer has its own ``epsilon``). Both fold exactly into the BN statistics: with conv bias
  ``b``, ``moving_mean' = moving_mean - b``, and ``moving_variance' = moving_variance +
  eps_source - eps_target`` (``eps_target`` = 0 for FrozenBatchNorm).
* **Input normalisation.** keras.applications weights were trained on Caffe input (BGR, 0..255,
  minus ``CAFFE_MEAN`` in BGR order, std 1); ``model.normalization`` says what our pipeline feeds
  (``fada_tf.config.schema.NormalizationConfig``). ``fold_input_normalization`` turns the affine
  map between the two, ``x_caffe[j] = scale[j] * x[order[j]] + shift[j]``, into the first conv
  (ResNet ``conv1``, VGG ``conv1_1``): the kernel's input channels are permuted (RGB -> BGR) and
  scaled, and the constant ``c[o] = sum_{h,w,j} W[h,w,j,o] * shift[j]`` goes into VGG's bias or,
  as ResNet's ``conv1`` has no bias, into ``bn1``: ``moving_mean' = moving_mean - c`` gives the
  same output with frozen BN and with a trainable BN in inference (with batch statistics a
  constant shift cancels anyway). When ``model.normalization`` already is the Caffe
  convention the fold is the identity and nothing is changed.

  **The border.** The fold is exact wherever the first conv's window lies inside the image.
  Where it covers zero padding, a zero of our input is not a zero of Caffe input: the folded
  network pads with the pixel ``x_caffe = shift`` instead of 0, so an output touching the
  padding differs from the unfolded network fed Caffe-converted input by
  ``sum over padded taps t, channels j of W[t,j,o] * shift[j]`` (for ResNet times bn1's
  ``gamma / sqrt(var)``). With the default (torchvision) normalisation, ``shift`` is
  ``255 * mean[::-1] - CAFFE_MEAN`` = (-0.41, -0.50, -0.005) grey levels in B, G, R: both
  conventions pad with (almost) the ImageNet mean pixel. tests/models/test_pretrained.py
  measures it on random keras.applications-shaped weights and uniform 0..255 images (41x38):
  interior outputs of the first layer (VGG ``conv1_1``, ResNet ``bn1``) agree to float32
  rounding (relative to the largest output: 3.9e-7 VGG, 4.9e-7 ResNet-50); border outputs
  differ by 0.22 % (VGG) / 0.27 % (ResNet-50) of the largest output with the default normalisation,
  3.1 % for a BGR normalisation with mean (100, 110, 120) and std (50, 60, 70), and always
  within the bound above.
  Deeper layers inherit the difference only where their receptive field reaches that border.
* **VGG16.** ``block<b>_conv<i>`` (kernel and bias) maps to our ``conv<b>_<i>``; conv5's
  kernels are used with dilation 2 (pool4 is removed, as in DeepLabV2). ``fc6``/``fc7`` and the
  ASPP head keep their random initialisation, as in the paper.

Every target weight is assigned exactly once and every source weight is used; anything else is
an error listing the names.
"""

import collections
import os
import re

import keras
import numpy as np

from fada_tf.config.schema import NormalizationConfig
from fada_tf.errors import FadaError
from fada_tf.models.frozen_batch_norm import FrozenBatchNorm

# Backbone name -> (keras.applications constructor, ImageNet "notop" weights file name).
APPLICATIONS = {
    "resnet50": ("ResNet50", "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    "resnet101": ("ResNet101", "resnet101_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    "vgg16": ("VGG16", "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"),
}
# Where keras.applications downloads them from ("imagenet").
APPLICATIONS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"
# Layers of our backbones that keras.applications has no weights for (left random).
RANDOM_LAYERS = {"vgg16": ("fc6", "fc7")}
# The Caffe input convention keras.applications' weights were trained on: BGR 0..255 minus
# this mean (BGR order), std 1. The original's Caffe VGG-16 uses the same.
CAFFE_MEAN = (103.939, 116.779, 123.68)
CAFFE_NORMALIZATION = NormalizationConfig(mean=list(CAFFE_MEAN), std=[1.0, 1.0, 1.0],
                                          to_bgr255=True)
# The first conv of each backbone and the BN after it (None: the conv has a bias).
FIRST_LAYER = {"resnet50": ("conv1", "bn1"), "resnet101": ("conv1", "bn1"),
               "vgg16": ("conv1_1", None)}


def load_imagenet_weights(backbone: keras.Model, name: str, source: str,
                          normalization: NormalizationConfig) -> None:
    """Initialise ``backbone`` (built for ``name``) from keras.applications ImageNet weights.

    ``source`` is ``"imagenet"`` (download through keras.applications) or the path of the
    matching ``*_notop.h5`` file; ``normalization`` (``model.normalization``) is folded into the
    first conv (``fold_input_normalization``). Raises FadaError for a missing/unreadable file, a
    failed download or a backbone without ImageNet weights.
    """
    if name not in APPLICATIONS:
        raise FadaError(f"model.pretrained={source}: there are no keras.applications ImageNet "
                        f"weights for model.backbone={name} (choose one of {sorted(APPLICATIONS)} "
                        "or set model.pretrained: none)")
    constructor_name, file_name = APPLICATIONS[name]
    constructor = getattr(keras.applications, constructor_name)
    url = f"{APPLICATIONS_URL}{'vgg16' if name == 'vgg16' else 'resnet'}/{file_name}"
    if source == "imagenet":
        try:
            source_model = constructor(weights="imagenet", include_top=False)
        except Exception as error:  # keras' get_file raises a bare Exception on fetch failures
            raise FadaError(
                f"model.pretrained=imagenet: downloading the keras.applications "
                f"{constructor_name} ImageNet weights failed ({_one_line(error)}); download "
                f"{url} on a machine with network access (keras keeps it in ~/.keras/models/) "
                "and set model.pretrained to its path") from error
    else:
        if not os.path.isfile(source):
            raise FadaError(f"model.pretrained={source}: file not found; download the "
                            f"keras.applications weights from {url} (or, for the original's exact "
                            "initialisation, point model.pretrained to its .pth file)")
        try:
            source_model = constructor(weights=source, include_top=False)
        except (ValueError, OSError, KeyError) as error:
            raise FadaError(f"model.pretrained={source}: could not load it into keras.applications "
                            f"{constructor_name} (expected {file_name} from {url}): "
                            f"{_one_line(error)}") from error
    transfer_keras_applications_weights(source_model, backbone, name)
    fold_input_normalization(backbone, name, normalization)


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split())


def caffe_input_map(normalization: NormalizationConfig):
    """``(order, scale, shift)`` with ``x_caffe[..., j] = scale[j] * x[..., order[j]] + shift[j]``.

    ``x`` is the network input ``normalization`` describes, ``x_caffe`` the Caffe convention's
    (channel ``j`` in BGR order); ``scale``/``shift`` are float64 arrays of 3.
    """
    mean = np.asarray(normalization.mean, np.float64)
    std = np.asarray(normalization.std, np.float64)
    if normalization.to_bgr255:  # x[k] = (bgr[k] - mean[k]) / std[k]
        order, unit = [0, 1, 2], 1.0
    else:  # x[k] = (rgb[k] / 255 - mean[k]) / std[k]; BGR channel j is RGB channel 2 - j
        order, unit = [2, 1, 0], 255.0
    scale = unit * std[order]
    shift = unit * mean[order] - np.asarray(CAFFE_MEAN, np.float64)
    return order, scale, shift


def fold_input_normalization(backbone: keras.Model, name: str,
                             normalization: NormalizationConfig) -> None:
    """Make ``backbone`` (holding Caffe-input weights) take ``normalization``'s input instead.

    Permutes and scales the first conv's input channels and moves the constant into its bias
    (VGG) or the following BN's ``moving_mean`` (ResNet). Exact except at the border (see the
    module docstring); the identity (nothing assigned) for the Caffe convention itself.
    """
    order, scale, shift = caffe_input_map(normalization)
    if order == [0, 1, 2] and np.all(scale == 1.0) and np.all(shift == 0.0):
        return
    conv_name, bn_name = FIRST_LAYER[name]
    conv = backbone.get_layer(conv_name)
    kernel = conv.kernel.numpy().astype(np.float64)  # (kh, kw, 3 in Caffe order, out)
    folded = np.empty_like(kernel)
    folded[:, :, order, :] = kernel * scale[None, None, :, None]
    constant = np.einsum("hwjo,j->o", kernel, shift)
    conv.kernel.assign(folded.astype(np.float32))
    if bn_name is None:
        conv.bias.assign((conv.bias.numpy().astype(np.float64) + constant).astype(np.float32))
    else:
        bn = backbone.get_layer(bn_name)
        bn.moving_mean.assign(
            (bn.moving_mean.numpy().astype(np.float64) - constant).astype(np.float32))


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
