"""Reading PyTorch checkpoints safely into numpy arrays.

``torch.load(weights_only=True)`` only rebuilds tensors and plain containers (dicts, lists,
numbers, strings); a file that needs any other object (a class, a function, a numpy array) is
refused instead of unpickled, so a checkpoint cannot run code.

Two layouts are read:

* the original FADA's training checkpoints: a dict with the state dicts ``feature_extractor``
  and ``classifier`` and optionally ``model_D``; other entries (``iteration``,
  ``optimizer_fea``, ...) are not weights and are reported as ignored. A state dict saved from
  a ``DistributedDataParallel`` module has every key prefixed ``module.``; the prefix is
  removed when all keys of the state dict carry it (as the original does when it loads them).
* ImageNet checkpoints: one state dict, torchvision's (``resnet101-5d3b4d8f.pth``,
  ``resnet50-19c8e357.pth``) or the Caffe-converted VGG-16 the original uses
  (``vgg16-00b39a1b.pth``: torchvision's ``features.N`` keys, classifier keys named
  differently); the classifier (``IMAGENET_CLASSIFIER``) is not part of a DeepLabV2 backbone.

Keys come back qualified by their state dict, ``"feature_extractor:backbone.conv1.weight"``; an
ImageNet state dict's keys stay as they are.
"""

from __future__ import annotations

import os
import pickle
import re

import numpy as np

from fada_tf.convert.transfer import preview
from fada_tf.errors import FadaError

SECTIONS = ("feature_extractor", "classifier")
DISCRIMINATOR_SECTION = "model_D"
DDP_PREFIX = "module."
# Key prefixes of an ImageNet checkpoint's classifier, which a DeepLabV2 backbone has no place for.
IMAGENET_CLASSIFIER = {"resnet101": ("fc.",), "resnet50": ("fc.",), "vgg16": ("classifier.",)}
NEEDS_TORCH = "reading PyTorch checkpoints needs PyTorch: pip install 'fada-tf[torch]'"


def import_torch():
    """The ``torch`` module, or a FadaError saying what to install."""
    try:
        import torch
    except ModuleNotFoundError:  # also when sys.modules["torch"] is None
        raise FadaError(NEEDS_TORCH) from None
    return torch


def read_fada_checkpoint(path: str) -> tuple[dict[str, np.ndarray], list[str]]:
    """(qualified key -> float32 array, sorted top-level entries that were ignored)."""
    checkpoint = _load(path)
    if not isinstance(checkpoint, dict) or not all(s in checkpoint for s in SECTIONS):
        found = (", ".join(preview(sorted(map(str, checkpoint)))) or "an empty dict"
                 if isinstance(checkpoint, dict) else f"a {type(checkpoint).__name__}")
        raise FadaError(f"{path} is not a FADA checkpoint: it needs the entries feature_extractor "
                        f"and classifier (found: {found}); for torchvision's ImageNet weights "
                        "use --imagenet")
    sections = [s for s in (*SECTIONS, DISCRIMINATOR_SECTION) if s in checkpoint]
    tensors = {}
    for section in sections:
        for key, value in _state_dict(checkpoint[section], path, section).items():
            tensors[f"{section}:{key}"] = value
    return tensors, sorted(set(map(str, checkpoint)) - set(sections))


def read_imagenet_checkpoint(path: str) -> dict[str, np.ndarray]:
    """The state dict of an ImageNet checkpoint (torchvision's or the Caffe VGG-16), key ->
    float32 array."""
    return _state_dict(_load(path), path, "")


def _load(path: str):
    if not os.path.isfile(path):
        raise FadaError(f"checkpoint not found: {path}")
    torch = import_torch()
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(error))
        what = found[1] if found else str(error).splitlines()[0]
        raise FadaError(f"{path} holds an object that is not a tensor ({what}); checkpoints are "
                        "read with torch.load(weights_only=True), which refuses to unpickle "
                        "arbitrary objects") from None
    except Exception as error:  # torch raises KeyError, EOFError, RuntimeError... on bad files
        raise FadaError(f"{path} is not a readable PyTorch checkpoint "
                        f"({type(error).__name__}: {error})") from None


def _state_dict(value, path: str, section: str) -> dict[str, np.ndarray]:
    """Check that ``value`` is a dict of tensors; strip a ``module.`` prefix; convert to numpy."""
    import torch

    where = f"{path}[{section}]" if section else path
    if not isinstance(value, dict):
        raise FadaError(f"{where} is a {type(value).__name__}, not a state dict")
    not_tensors = sorted(str(k) for k, v in value.items()
                         if not (isinstance(k, str) and isinstance(v, torch.Tensor)))
    if not_tensors:
        raise FadaError(f"{where} is not a state dict: {len(not_tensors)} entries are not "
                        f"tensors: {', '.join(preview(not_tensors))}")
    if value and all(key.startswith(DDP_PREFIX) for key in value):
        value = {key[len(DDP_PREFIX):]: tensor for key, tensor in value.items()}
    return {key: tensor.detach().to(torch.float32).numpy() for key, tensor in value.items()}

