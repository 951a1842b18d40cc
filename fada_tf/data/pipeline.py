"""tf.data pipelines: joint image/label augmentation, normalisation, batching, prefetch.

Training elements are ``(image, label)`` for a labelled domain and ``image`` for an unlabelled
one; images are float32 RGB normalised with the ImageNet mean and std (what the backbones
expect), labels int32 train IDs with 255 = ignore. Augmentation is stateless and seeded per
element, so a run is reproducible from its seed.
"""

from __future__ import annotations

import tensorflow as tf

from fada_tf.config.schema import DomainConfig
from fada_tf.data.classes import IGNORE_LABEL

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def normalize(image):
    """uint8 RGB → float32 RGB in [0, 1] standardised with the ImageNet mean/std."""
    image = tf.cast(image, tf.float32) / 255.0
    return (image - IMAGENET_MEAN) / IMAGENET_STD


def augment(image, label, cfg: DomainConfig, seed):
    """Resize, random scale, random crop (label padded with 255), flip and colour jitter.

    ``image`` (H, W, 3) uint8, ``label`` (H, W) uint8 or None; ``seed`` a shape-[2] int tensor.
    Image and label always go through the same geometric transform.
    """
    seeds = tf.random.experimental.stateless_split(seed, num=5)
    image = tf.cast(image, tf.float32)
    has_label = label is not None
    label = tf.cast(label if has_label else tf.zeros(tf.shape(image)[:2], tf.uint8), tf.int32)

    low, high = cfg.scale_range
    scale = tf.random.stateless_uniform([], seeds[0], low, high)
    size = tf.cast(tf.round(tf.constant(cfg.resize, tf.float32) * scale), tf.int32)
    image = tf.image.resize(image, size, method="bilinear")
    label = tf.image.resize(label[..., None], size, method="nearest")[..., 0]

    image, label = _random_crop(image, label, cfg.crop, seeds[1])
    if cfg.flip:
        flip = tf.random.stateless_uniform([], seeds[2]) < 0.5
        image = tf.where(flip, tf.reverse(image, [1]), image)
        label = tf.where(flip, tf.reverse(label, [1]), label)
    if cfg.color_jitter:
        image = color_jitter(image, seeds[3])
    image = normalize(tf.clip_by_value(image, 0.0, 255.0))
    return (image, label) if has_label else image


def _random_crop(image, label, crop, seed):
    """Pad to at least ``crop`` (image 0, label 255), then take one crop of both at one offset."""
    ch, cw = crop
    shape = tf.shape(image)
    pad_h, pad_w = tf.maximum(ch - shape[0], 0), tf.maximum(cw - shape[1], 0)
    image = tf.pad(image, [[0, pad_h], [0, pad_w], [0, 0]])
    label = tf.pad(label + 1, [[0, pad_h], [0, pad_w]]) - 1  # padding becomes -1 ...
    label = tf.where(label < 0, IGNORE_LABEL, label)          # ... then the ignore label
    shape = tf.shape(image)
    limit = tf.stack([shape[0] - ch + 1, shape[1] - cw + 1])
    offset = tf.random.stateless_uniform([2], seed, 0, tf.int32.max, tf.int32) % limit
    image = image[offset[0]: offset[0] + ch, offset[1]: offset[1] + cw]
    label = label[offset[0]: offset[0] + ch, offset[1]: offset[1] + cw]
    return tf.ensure_shape(image, [ch, cw, 3]), tf.ensure_shape(label, [ch, cw])


def color_jitter(image, seed, brightness=0.5, contrast=0.5, saturation=0.5, hue=0.2):
    """torchvision ``ColorJitter(0.5, 0.5, 0.5, 0.2)`` semantics on a float image in [0, 255].

    Factors are drawn uniformly from [1 − x, 1 + x] (hue: a shift in [−hue, hue] of a turn)
    and applied in a fixed order: brightness, contrast, saturation, hue.
    """
    s = tf.random.experimental.stateless_split(seed, num=4)
    image = image * tf.random.stateless_uniform([], s[0], 1 - brightness, 1 + brightness)
    image = tf.clip_by_value(image, 0.0, 255.0)
    gray = tf.image.rgb_to_grayscale(image)
    factor = tf.random.stateless_uniform([], s[1], 1 - contrast, 1 + contrast)
    image = tf.clip_by_value((image - tf.reduce_mean(gray)) * factor + tf.reduce_mean(gray), 0.0, 255.0)
    gray = tf.image.rgb_to_grayscale(image)
    factor = tf.random.stateless_uniform([], s[2], 1 - saturation, 1 + saturation)
    image = tf.clip_by_value(gray + (image - gray) * factor, 0.0, 255.0)
    delta = tf.random.stateless_uniform([], s[3], -hue, hue)
    return tf.image.adjust_hue(image / 255.0, delta) * 255.0


def training_dataset(pairs: tf.data.Dataset, cfg: DomainConfig, batch_size: int, seed: int,
                     labelled: bool) -> tf.data.Dataset:
    """Augmented, batched, prefetched stream from a stream of ``(image, label)`` pairs.

    ``pairs`` is normally endless and already shuffled or class-balanced
    (``fada_tf.data.datasets.training_pairs``, which shuffles with ``seed``; the augmentation
    seeds here come from ``seed + 1``). For an unlabelled domain the labels are dropped
    before augmentation.
    """
    seeds = tf.data.Dataset.random(seed=seed + 1).batch(2)
    ds = tf.data.Dataset.zip((pairs, seeds))
    if labelled:
        ds = ds.map(lambda pair, s: augment(pair[0], pair[1], cfg, s), num_parallel_calls=tf.data.AUTOTUNE)
    else:
        ds = ds.map(lambda pair, s: augment(pair[0], None, cfg, s), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def evaluation_dataset(pairs: tf.data.Dataset, size, batch_size: int) -> tf.data.Dataset:
    """``(image resized to size, label at full resolution)`` batches, in order, for mIoU."""
    def prepare(image, label):
        image = tf.image.resize(tf.cast(image, tf.float32), size, method="bilinear")
        return normalize(image), tf.cast(label, tf.int32)
    return pairs.map(prepare, num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size).prefetch(2)
