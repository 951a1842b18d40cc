"""``model.pretrained``: where a freshly built backbone's weights come from.

==================  =============================================================================
value               the backbone starts from
==================  =============================================================================
``none``            the builders' seeded random initialisation
``imagenet``        keras.applications' ImageNet weights, downloaded (``fada_tf.models.imagenet``),
                    with ``model.normalization`` folded into the first conv
``*.pth``, ``*.pt`` the original's ImageNet file: torchvision's ``resnet101-5d3b4d8f.pth`` /
                    ``resnet50-19c8e357.pth`` or the Caffe-converted ``vgg16-00b39a1b.pth``
                    (``URLS``), read by the converter (``torch.load(weights_only=True)``, needs
                    ``pip install 'fada-tf[torch]'``). Exact: the same tensors in the same layers
                    (VGG ``fc6``/``fc7`` are not in the file and keep their initialisation).
``*.weights.h5``    the backbone of a fada-tf segmentor weights file: the one ``fada-tf convert
                    torch FILE --imagenet`` writes (the original's exact initialisation without
                    PyTorch), or any run's ``checkpoints/*.weights.h5``. Every backbone weight is
                    copied, VGG's fc6/fc7 included; frozen and trainable BatchNorm files fit
                    either kind of network.
other ``*.h5``      a keras.applications ``*_notop.h5`` file: ``imagenet`` without the download
==================  =============================================================================

The ASPP head is never read from anywhere: it keeps its initialisation, as in the original.
The weights are used as they are, so ``model.normalization`` must be the input convention
they were trained with (torchvision ResNets: the default RGB mean/std; the Caffe VGG-16:
``to_bgr255: true``, mean ``[103.939, 116.779, 123.68]``, std 1); only keras.applications
weights are adapted to it (``fold_input_normalization``). Every failure is a one-line
FadaError naming ``model.pretrained``, its value and what to do.
"""

from __future__ import annotations

import dataclasses
import os
import warnings

import keras

from fada_tf.config.recipe import IMAGENET_URLS as URLS
from fada_tf.config.recipe import pretrained_kind
from fada_tf.config.schema import ModelConfig
from fada_tf.errors import FadaError
from fada_tf.models.imagenet import load_imagenet_weights

# Convolution kernels of each backbone, to recognise a weights file's backbone.
BACKBONE_CONVS = {53: "resnet50", 104: "resnet101", 15: "vgg16"}


def load_pretrained(backbone: keras.Model, config: ModelConfig) -> None:
    """Initialise the freshly built ``backbone`` of ``config`` per ``config.pretrained``."""
    kind = pretrained_kind(config.pretrained)
    if kind == "keras":
        load_imagenet_weights(backbone, config.backbone, config.pretrained, config.normalization)
    elif kind == "torch":
        load_torch_imagenet(backbone, config)
    elif kind == "segmentor":
        load_segmentor_backbone(backbone, config)


def _convert_hint(name: str) -> str:
    return (f"convert it once where PyTorch is installed with `fada-tf convert torch "
            f"{os.path.basename(URLS[name])} --imagenet --config CONFIG --out RUN` and set "
            "model.pretrained to RUN/checkpoints/imagenet-000000.weights.h5")


def load_torch_imagenet(backbone: keras.Model, config: ModelConfig) -> None:
    """The original's ImageNet ``.pth`` into the backbone (all but VGG's fc6/fc7), exactly."""
    # Imported here: fada_tf.convert imports fada_tf.models.
    from fada_tf.convert.torch_file import (IMAGENET_CLASSIFIER, NEEDS_TORCH,
                                            read_imagenet_checkpoint)
    from fada_tf.convert.torch_names import segmentor_keys
    from fada_tf.convert.transfer import guess_backbone, transfer

    name, value = config.backbone, config.pretrained
    if name not in URLS:
        raise FadaError(f"model.pretrained={value}: there is no PyTorch ImageNet checkpoint for "
                        f"model.backbone={name} (the original's are {', '.join(URLS)}); set "
                        "model.pretrained: none")
    if not os.path.isfile(value):
        raise FadaError(f"model.pretrained={value}: file not found; download the original's {name} "
                        f"weights from {URLS[name]} (reading a .pth needs PyTorch: pip install "
                        f"'fada-tf[torch]'; without it, {_convert_hint(name)})")
    try:
        tensors = read_imagenet_checkpoint(value)
    except FadaError as error:
        if str(error) == NEEDS_TORCH:
            raise FadaError(f"model.pretrained={value}: {error} "
                            f"(or {_convert_hint(name)})") from None
        text = str(error)
        text = f"={text}" if text.startswith(value) else f"={value}: {text}"
        raise FadaError(f"model.pretrained{text} (expected the original's ImageNet state dict, "
                        f"{URLS[name]}; a FADA checkpoint is converted with `fada-tf convert "
                        "torch`)") from None
    guess = guess_backbone(tensors)
    if guess not in (None, name):
        raise FadaError(f"model.pretrained={value} looks like a {guess} checkpoint, but "
                        f"model.backbone is {name}: set model.backbone: {guess} or use the {name} "
                        f"weights ({URLS[name]})")
    keys = segmentor_keys(_SegmentorView(backbone), name, imagenet=True)
    try:
        transfer(keys, tensors, f"model.pretrained={value}", f"the model.backbone={name} backbone",
                 backbone=name, ignored_prefixes=IMAGENET_CLASSIFIER[name])
    except FadaError as error:
        raise FadaError(f"{error} (expected the original's {URLS[name]})") from None


class _SegmentorView:
    """What ``segmentor_keys(..., imagenet=True)`` reads of a segmentor: its backbone."""

    def __init__(self, backbone):
        self._backbone = backbone

    def get_layer(self, name):
        if name != "backbone":
            raise KeyError(name)
        return self._backbone


def load_segmentor_backbone(backbone: keras.Model, config: ModelConfig) -> None:
    """The backbone of a fada-tf segmentor ``.weights.h5`` into ``backbone``, every weight.

    Keras matches a weights file by layer classes, so a file written with the other kind of
    BatchNorm (frozen vs trainable, e.g. a frozen-BN ImageNet conversion for a trainable-BN
    distillation student) is loaded into a network of that kind and copied over by layer and
    weight name.
    """
    name, value = config.backbone, config.pretrained
    if not os.path.isfile(value):
        url = f" from {URLS[name]}" if name in URLS else ""
        raise FadaError(f"model.pretrained={value}: file not found; fada-tf segmentor weights "
                        "are written by training (RUN/checkpoints/*.weights.h5) and, for the "
                        f"original's ImageNet initialisation{url}, by `fada-tf convert torch FILE "
                        "--imagenet --config CONFIG --out RUN` "
                        "(RUN/checkpoints/imagenet-000000.weights.h5)")
    guess = _guess_weights_backbone(value)
    if guess not in (None, name):
        raise FadaError(f"model.pretrained={value} holds a {guess} segmentor, but "
                        f"model.backbone is {name}: set model.backbone: {guess} or use a {name} "
                        "weights file")
    try:
        _load_backbone_weights(backbone, value)
        return
    except (ValueError, OSError, KeyError):
        pass
    from fada_tf.models.segmentor import build_backbone  # imports this module

    other = build_backbone(dataclasses.replace(config, pretrained="none",
                                               freeze_bn=not config.freeze_bn))
    try:
        _load_backbone_weights(other, value)
    except (ValueError, OSError, KeyError) as error:
        first = " ".join(str(error).split(" Example error message")[0].split())
        raise FadaError(f"model.pretrained={value} is not a fada-tf segmentor weights file for "
                        f"model.backbone={name} ({first}); use one written for this model "
                        "configuration") from None
    _copy_weights(other, backbone, value)


def _load_backbone_weights(backbone: keras.Model, path: str) -> None:
    """``load_weights`` of a segmentor file into a model whose only layer is ``backbone``: the
    file's backbone entries load, its ASPP head is not read."""
    image = keras.Input((None, None, 3))
    holder = keras.Model(image, backbone(image))
    with warnings.catch_warnings():
        # Keras warns about every layer it cannot match before it raises; the error suffices.
        warnings.simplefilter("ignore")
        holder.load_weights(path)


def _copy_weights(source: keras.Model, target: keras.Model, path: str) -> None:
    """Assign every weight of ``target``'s layers from ``source``'s layer of the same name."""
    pairs = []
    for layer in target.layers:
        if not layer.weights:
            continue
        theirs = {w.name: w for w in source.get_layer(layer.name).weights}
        ours = {w.name: w for w in layer.weights}
        if theirs.keys() != ours.keys():
            raise FadaError(f"model.pretrained={path}: layer {layer.name} has the weights "
                            f"{sorted(theirs)} in the file and {sorted(ours)} in the model")
        pairs += [(weight, theirs[key]) for key, weight in ours.items()]
    for weight, value in pairs:
        weight.assign(value.numpy())


def _guess_weights_backbone(path: str) -> str | None:
    """resnet50, resnet101 or vgg16 from the number of conv kernels outside the ASPP head of a
    Keras weights file; None when not recognisable (or not an HDF5 file)."""
    import h5py

    kernels = []
    try:
        with h5py.File(path, "r") as file:
            file.visititems(lambda key, item: kernels.append(key) if (
                isinstance(item, h5py.Dataset) and item.ndim == 4 and "aspp" not in key) else None)
    except OSError:
        return None
    return BACKBONE_CONVS.get(len(kernels))
