"""Placing a checkpoint's arrays into Keras variables: every tensor exactly once, or an error.

Before anything is assigned, the keys of the checkpoint and of the model are compared: a key
the model needs but the checkpoint lacks ("missing"), a checkpoint key the model has no place
for ("unused") and a tensor of the wrong shape are reported together in one error. Some keys
are ignored on purpose and never count as unused: BatchNorm's ``num_batches_tracked`` counter
and the prefixes the caller names (torchvision's ImageNet classifier ``fc.`` / ``classifier.``).
Conv kernels are transposed from torch's OIHW to Keras' HWIO.
"""

from __future__ import annotations

import re

import numpy as np

from fada_tf.errors import FadaError

IGNORED_SUFFIXES = (".num_batches_tracked",)
PREVIEW = 6


def transfer(keys: dict, tensors: dict[str, np.ndarray], source: str, target: str,
             backbone: str, ignored_prefixes: tuple[str, ...] = ()) -> list[str]:
    """Assign ``tensors[key]`` to ``keys[key]`` (a Keras variable) for every key.

    ``source`` (the file) and ``target`` (the model) name the two sides in the error message,
    which also says which backbone the checkpoint looks like when it is not ``backbone``.
    Returns the sorted keys ignored on purpose.
    """
    ignored = sorted(key for key in tensors
                     if key.endswith(IGNORED_SUFFIXES) or key.startswith(ignored_prefixes))
    missing = sorted(keys.keys() - tensors.keys())
    unused = sorted(tensors.keys() - keys.keys() - set(ignored))
    mismatched = [f"{key} {_shape(tensors[key].shape)} (model: {_shape(torch_shape(keys[key]))})"
                  for key in sorted(keys.keys() & tensors.keys())
                  if tuple(tensors[key].shape) != torch_shape(keys[key])]
    problems = [f"{len(names)} {what}: {', '.join(preview(names))}"
                for what, names in (("missing keys", missing), ("unused keys", unused),
                                    ("shape mismatches", mismatched)) if names]
    if problems:
        guess = guess_backbone(tensors)
        hint = f" (the checkpoint looks like a {guess})" if guess not in (None, backbone) else ""
        raise FadaError(f"{source} does not fit {target}{hint}: {'; '.join(problems)}")
    for key, variable in keys.items():
        variable.assign(to_keras(tensors[key]))
    return ignored


def torch_shape(variable) -> tuple[int, ...]:
    """The torch shape of a Keras variable: a conv kernel HWIO is OIHW in torch."""
    shape = tuple(variable.shape)
    return (shape[3], shape[2], shape[0], shape[1]) if len(shape) == 4 else shape


def _shape(shape) -> str:
    return "x".join(map(str, shape)) or "scalar"


def to_keras(array: np.ndarray) -> np.ndarray:
    """A torch tensor's values in Keras' layout (conv kernels OIHW -> HWIO)."""
    return np.transpose(array, (2, 3, 1, 0)) if array.ndim == 4 else array


def guess_backbone(tensors: dict) -> str | None:
    """"resnet101", "resnet50" or "vgg16" from a checkpoint's backbone keys, if recognisable."""
    layer3_blocks = {match[1] for key in tensors
                     if (match := re.search(r"(?:^|[.:])layer3\.(\d+)\.", key))}
    if layer3_blocks:
        return {23: "resnet101", 6: "resnet50"}.get(len(layer3_blocks))
    if any(re.search(r"(?:backbone\.31|features\.28)\.weight$", key) for key in tensors):
        return "vgg16"
    return None


def preview(names: list[str], limit: int = PREVIEW) -> list[str]:
    """The first ``limit`` names, then "... (N more)": long key lists stay on one readable line."""
    if len(names) <= limit:
        return names
    return [*names[:limit], f"... ({len(names) - limit} more)"]
