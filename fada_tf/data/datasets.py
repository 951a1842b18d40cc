"""Where a domain's images come from: the built-in synthetic shift or a prepared dataset folder.

Every split is a ``tf.data.Dataset`` of ``(image uint8 (H, W, 3), label uint8 (H, W))`` pairs;
augmentation and batching happen in ``fada_tf.data.pipeline``.
"""

from __future__ import annotations

import functools
import zlib

import tensorflow as tf

from fada_tf.config.schema import DataConfig
from fada_tf.data.synthetic import render_split
from fada_tf.errors import FadaError

# The synthetic source looks like a game, the target like a camera (fada_tf.data.synthetic).
SYNTHETIC_STYLE = {"source": "game", "target": "real"}


def split_pairs(cfg: DataConfig, domain: str, split: str) -> tf.data.Dataset:
    """The ``(image, label)`` pairs of ``split`` ("train", "val", ...) of ``domain`` (source/target)."""
    domain_cfg = getattr(cfg, domain)
    if domain_cfg.dataset != "synthetic":
        raise FadaError(
            f"data.{domain}.dataset = {domain_cfg.dataset}: reading prepared real datasets is not "
            "available in this version yet; use dataset: synthetic")
    images, labels = synthetic_split(cfg, domain, split)
    return tf.data.Dataset.from_tensor_slices((images, labels))


def synthetic_split(cfg: DataConfig, domain: str, split: str):
    """Arrays of a synthetic split; each (domain, split) has its own scene seeds."""
    syn = cfg.synthetic
    count = {"train": syn.source_images if domain == "source" else syn.target_train_images,
             "val": syn.target_val_images}.get(split)
    if count is None:
        raise FadaError(f"synthetic data has splits train and val, not {split!r}")
    seed = syn.seed + zlib.crc32(f"{domain}/{split}".encode())
    return _rendered(SYNTHETIC_STYLE[domain], count, seed, syn.height, syn.width)


@functools.lru_cache(maxsize=4)
def _rendered(style: str, count: int, seed: int, height: int, width: int):
    """Render a split once per process (stages and evaluations reuse it); arrays are read-only."""
    images, labels = render_split(style, count, seed, height, width)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels
