"""Where a domain's images come from: the built-in synthetic shift or a prepared dataset folder.

``split_pairs`` gives a split's ``(image uint8 (H, W, 3), label uint8 (H, W))`` pairs in
order (evaluation); ``training_pairs`` the endless shuffled (or class-balanced) stream a
training stage draws from; ``stage_batches`` that stream augmented and batched by
``fada_tf.data.pipeline`` as the stage's image stream says. A prepared folder is checked against the config here, and every
mismatch is an error that says what to run or set.
"""

from __future__ import annotations

import functools
import zlib

import numpy as np
import tensorflow as tf

from fada_tf.config.recipe import class_balanced_draws, stage_streams
from fada_tf.config.schema import Config, DataConfig
from fada_tf.data import canonical
from fada_tf.data.classes import class_table, remap_lookup
from fada_tf.data.pipeline import training_dataset
from fada_tf.data.reader import PreparedSplit
from fada_tf.data.synthetic import GAME, Style, render_split
from fada_tf.data.synthetic_shifts import target_style
from fada_tf.errors import FadaError

SYNTHETIC_NOT_BALANCED = ("class-balanced sampling of data.{domain} needs a prepared dataset, not "
                          "synthetic data (set the stage's class_balanced: false)")
# Shuffle buffer of the in-memory synthetic splits' indices (they are smaller: a full shuffle).
SYNTHETIC_SHUFFLE_BUFFER = 4096


def split_pairs(cfg: DataConfig, domain: str, split: str, labelled: bool = True) -> tf.data.Dataset:
    """The ``(image, label)`` pairs of ``split`` ("train", "val", ...) of ``domain``, in order.

    ``labelled=False`` also accepts a split without labels (its labels are all 255).
    """
    if getattr(cfg, domain).dataset == "synthetic":
        images, labels = synthetic_split(cfg, domain, split)
        return tf.data.Dataset.from_tensor_slices((images, labels))
    return prepared_split(cfg, domain, split, labelled=labelled).ordered()


def pair_reader(cfg: DataConfig, domain: str, split: str, labelled: bool = True):
    """``read(index) -> (image, label)``: random access to ``split``, for ``Dataset.map``.

    Training streams shuffle indices, not decoded images, so a resumable checkpoint of the
    stream's position (``fada_tf.training.state``) holds numbers, not a buffer of images.
    """
    if getattr(cfg, domain).dataset == "synthetic":
        images, labels = (tf.constant(a) for a in synthetic_split(cfg, domain, split))
        return lambda i: (tf.gather(images, i), tf.gather(labels, i))
    return prepared_split(cfg, domain, split, labelled=labelled).reader()


def training_pairs(cfg: DataConfig, domain: str, seed: int, labelled: bool,
                   class_balanced_draws: int = 0) -> tf.data.Dataset:
    """The endless stream of ``domain``'s training split: reshuffled every pass or, when
    ``class_balanced_draws`` > 0, the original's class-balanced list of that many draws
    (``fada_tf.data.sampler``).

    ``labelled=False`` (the target domain) accepts a split without labels and yields empty
    placeholder labels for it.
    """
    domain_cfg = getattr(cfg, domain)
    if domain_cfg.dataset == "synthetic":
        if class_balanced_draws:
            raise FadaError(SYNTHETIC_NOT_BALANCED.format(domain=domain))
        images, _ = synthetic_split(cfg, domain, domain_cfg.train_split)
        indices = tf.data.Dataset.range(len(images))
        indices = indices.shuffle(SYNTHETIC_SHUFFLE_BUFFER, seed=seed, reshuffle_each_iteration=True)
        return indices.repeat().map(pair_reader(cfg, domain, domain_cfg.train_split))
    prepared = prepared_split(cfg, domain, domain_cfg.train_split, labelled)
    if class_balanced_draws:
        return prepared.class_balanced(seed, class_balanced_draws)
    return prepared.shuffled(seed)


def stage_batches(config: Config, stage: str, domain: str, seed: int) -> tf.data.Dataset:
    """The augmented batches a training ``stage`` ("source" or "adapt") draws from ``domain``:
    the split of ``data.<domain>`` read through the stage's ``<domain>_images`` stream."""
    stream = stage_streams(config, stage)[domain]
    labelled = domain == "source"
    draws = class_balanced_draws(config, stage) if stream.class_balanced else 0
    pairs = training_pairs(config.data, domain, seed, labelled, draws)
    return training_dataset(pairs, stream, config.model.normalization,
                            getattr(config, stage).batch_size, seed, labelled)


def check_data(config: Config) -> None:
    """Raise the FadaError a training run would meet later, now: every prepared split the
    run's stages train or evaluate on must exist and suit the config (synthetic data always
    does, except for class-balanced sampling)."""
    cfg = config.data
    streams = {"source": [], "target": []}
    for stage in config.run.stages:
        for domain, stream in stage_streams(config, stage).items():
            streams[domain].append(stream)
    for domain, labelled in (("source", True), ("target", False)):
        if not streams[domain]:
            continue
        balanced = any(s.class_balanced for s in streams[domain])
        if getattr(cfg, domain).dataset == "synthetic":
            if balanced:
                raise FadaError(SYNTHETIC_NOT_BALANCED.format(domain=domain))
            continue
        prepared = prepared_split(cfg, domain, getattr(cfg, domain).train_split, labelled)
        if balanced:
            prepared.reader()  # class-balanced sampling needs random access (PNG storage)
    if cfg.target.dataset != "synthetic" and cfg.target.val_split:
        prepared_split(cfg, "target", cfg.target.val_split, labelled=True)


def synthetic_split(cfg: DataConfig, domain: str, split: str):
    """Arrays of a synthetic split; each (domain, split) has its own scene seeds.

    The source is drawn in the game style (in the target's with ``oracle``), the target in
    the style of ``data.synthetic.shift`` (by default the "real" camera look).
    """
    syn = cfg.synthetic
    count = {"train": syn.source_images if domain == "source" else syn.target_train_images,
             "val": syn.target_val_images}.get(split)
    if count is None:
        raise FadaError(f"synthetic data has splits train and val, not {split!r}")
    seed = syn.seed + zlib.crc32(f"{domain}/{split}".encode())
    style = target_style(syn.shift, syn.strength) if domain == "target" or syn.oracle else GAME
    return _rendered(style, count, seed, syn.height, syn.width)


@functools.lru_cache(maxsize=4)
def _rendered(style: Style, count: int, seed: int, height: int, width: int):
    """Render a split once per process (stages and evaluations reuse it); arrays are read-only."""
    images, labels = render_split(style, count, seed, height, width)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def prepared_split(cfg: DataConfig, domain: str, split: str, labelled: bool) -> PreparedSplit:
    """``split`` of the prepared folder ``data.<domain>.root``, checked against the config."""
    key, domain_cfg = f"data.{domain}", getattr(cfg, domain)
    root = domain_cfg.root
    prepare = (f"`fada-tf data prepare --dataset {domain_cfg.dataset} --root RAW_{domain_cfg.dataset.upper()} "
               f"--out {root or 'DIR'}`")
    if not root:
        raise FadaError(f"{key}.root is empty: set it to a folder made by {prepare}")
    if not canonical.is_prepared(root):
        raise FadaError(f"{key}.root = {root} is not a prepared dataset (no {canonical.MANIFEST}); "
                        f"make it with {prepare}")
    manifest = canonical.read_manifest(root)
    if manifest["dataset"] != domain_cfg.dataset:
        raise FadaError(f"{key}.root = {root} was prepared from {manifest['dataset']}, but "
                        f"{key}.dataset = {domain_cfg.dataset}")
    splits = manifest["splits"]
    if split not in splits:
        raise FadaError(f"{root} has no split {split!r} (it has {', '.join(splits)}); prepare it with "
                        f"{prepare[:-1]} --split {split}` or change {key}'s split")
    if not splits[split]["items"]:
        raise FadaError(f"split {split} of {root} is empty (every pair was skipped as bad?); "
                        f"run `fada-tf data check` on the raw release and {prepare} again")
    if labelled and not splits[split]["labelled"]:
        raise FadaError(f"split {split} of {root} has no labels, and {key} needs them here")
    return PreparedSplit(root, manifest, split, *_class_mapping(cfg, root, manifest, split))


def _class_mapping(cfg: DataConfig, root: str, manifest: dict, split: str):
    """(label lookup or None, class pixels per image) for the experiment's class table."""
    table, stored = class_table(cfg.classes), class_table(manifest["classes"])
    if manifest["class_names"] != list(stored.names):
        raise FadaError(f"{root}/{canonical.MANIFEST}: its {stored.key} classes differ from this "
                        "version's table; prepare the dataset again")
    missing = [name for name in table.names if name not in stored.names]
    if missing:
        raise FadaError(f"data.classes = {cfg.classes} has {', '.join(missing)}, which {root} "
                        f"({stored.key}) does not label; set data.classes to {stored.key} or a subset of it")
    columns = [stored.names.index(name) for name in table.names]
    stats = canonical.read_class_stats(root)["splits"].get(split) if manifest["splits"][split]["labelled"] else None
    pixels = np.asarray(stats, np.int64)[:, columns] if stats is not None else None
    return (None if table.names == stored.names else remap_lookup(stored, table)), pixels
