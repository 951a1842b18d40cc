"""tf.data pipelines: joint image/label augmentation, normalisation, batching, prefetch.

Training elements are ``(image, label)`` for a labelled domain and ``image`` for an unlabelled
one; images are float32, normalised as ``model.normalization`` says (what the backbone's
weights expect), labels int32 train IDs with 255 = ignore. Each stage reads a domain through
its own ``ImageStream`` (``fada_tf.config.schema``), in the original's order
(core/datasets/build.py ``build_transform``): colour jitter on the full image, resize or
random rescale (PIL bicubic images, nearest labels: ``fada_tf.data.image_ops``), random crop,
flip, normalisation. Augmentation is stateless and seeded per element, so a run is
reproducible from its seed.
"""

from __future__ import annotations

import tensorflow as tf

from fada_tf.config.schema import ImageStream, NormalizationConfig
from fada_tf.data.classes import IGNORE_LABEL
from fada_tf.data.image_ops import color_jitter, resize_image, resize_label, scaled_size


def normalize(image, norm: NormalizationConfig):
    """RGB values 0..255 (any dtype) → the network's float32 input (core/datasets/transform.py
    ``Normalize``): ``(rgb / 255 − mean) / std``, or with ``to_bgr255`` ``(bgr − mean) / std``."""
    image = tf.cast(image, tf.float32)
    image = tf.gather(image, [2, 1, 0], axis=-1) if norm.to_bgr255 else image / 255.0
    return (image - tf.constant(norm.mean, tf.float32)) / tf.constant(norm.std, tf.float32)


def augment(image, label, stream: ImageStream, norm: NormalizationConfig, seed):
    """One training image (and label) through ``stream``: jitter, resize/rescale, crop, flip.

    ``image`` (H, W, 3) uint8, ``label`` (H, W) uint8 or None; ``seed`` a shape-[2] int tensor.
    Image and label always go through the same geometric transform.
    """
    seeds = tf.random.experimental.stateless_split(seed, num=4)
    image = tf.cast(image, tf.float32)
    has_label = label is not None
    label = tf.cast(label if has_label else tf.zeros(tf.shape(image)[:2], tf.uint8), tf.int32)

    if any(stream.color_jitter):
        image = color_jitter(image, seeds[0], *stream.color_jitter)
    if stream.resize:
        image, label = resize_image(image, stream.resize), resize_label(label, stream.resize)
    low, high = stream.scale_range
    if (low, high) != (1.0, 1.0):
        scale = tf.random.stateless_uniform([], seeds[1], low, high)
        size = scaled_size(tf.shape(image)[0], tf.shape(image)[1], scale)
        image, label = resize_image(image, size), resize_label(label, size)
    if stream.crop:
        image, label = _random_crop(image, label, stream.crop, seeds[2])
    if stream.flip:
        flip = tf.random.stateless_uniform([], seeds[3]) < stream.flip
        image = tf.where(flip, tf.reverse(image, [1]), image)
        label = tf.where(flip, tf.reverse(label, [1]), label)
    image = normalize(image, norm)
    return (image, label) if has_label else image


def _random_crop(image, label, crop, seed):
    """Pad to at least ``crop`` (image 0, label 255), then take one crop of both at one offset."""
    ch, cw = crop
    shape = tf.shape(image)
    pad_h, pad_w = tf.maximum(ch - shape[0], 0), tf.maximum(cw - shape[1], 0)
    image = tf.pad(image, [[0, pad_h], [0, pad_w], [0, 0]])
    label = tf.pad(label, [[0, pad_h], [0, pad_w]], constant_values=IGNORE_LABEL)
    shape = tf.shape(image)
    limit = tf.stack([shape[0] - ch + 1, shape[1] - cw + 1])
    offset = tf.random.stateless_uniform([2], seed, 0, tf.int32.max, tf.int32) % limit
    image = image[offset[0]: offset[0] + ch, offset[1]: offset[1] + cw]
    label = label[offset[0]: offset[0] + ch, offset[1]: offset[1] + cw]
    return tf.ensure_shape(image, [ch, cw, 3]), tf.ensure_shape(label, [ch, cw])


def training_dataset(pairs: tf.data.Dataset, stream: ImageStream, norm: NormalizationConfig,
                     batch_size: int, seed: int, labelled: bool) -> tf.data.Dataset:
    """Augmented, batched, prefetched stream from a stream of ``(image, label)`` pairs.

    ``pairs`` is normally endless and already shuffled or class-balanced
    (``fada_tf.data.datasets.training_pairs``, which shuffles with ``seed``; the augmentation
    seeds here come from ``seed + 1``). For an unlabelled domain the labels are dropped
    before augmentation.
    """
    seeds = tf.data.Dataset.random(seed=seed + 1).batch(2)
    ds = tf.data.Dataset.zip((pairs, seeds))
    if labelled:
        ds = ds.map(lambda pair, s: augment(pair[0], pair[1], stream, norm, s),
                    num_parallel_calls=tf.data.AUTOTUNE)
    else:
        ds = ds.map(lambda pair, s: augment(pair[0], None, stream, norm, s),
                    num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def evaluation_image(image, size, norm: NormalizationConfig):
    """An evaluation image: resized to ``size`` as the original's test transform (PIL bicubic),
    then normalised."""
    return normalize(resize_image(tf.cast(image, tf.float32), size), norm)


def evaluation_dataset(pairs: tf.data.Dataset, size, norm: NormalizationConfig,
                       batch_size: int) -> tf.data.Dataset:
    """``(image resized to size, label at full resolution)`` batches, in order, for mIoU."""
    def prepare(image, label):
        return evaluation_image(image, size, norm), tf.cast(label, tf.int32)
    return pairs.map(prepare, num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size).prefetch(2)
