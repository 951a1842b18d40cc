"""The tf.data pipeline keeps image and label aligned, pads labels with 255, is seeded."""

import numpy as np
import tensorflow as tf

from fada_tf.config.schema import DomainConfig
from fada_tf.data.pipeline import IMAGENET_MEAN, IMAGENET_STD, augment, normalize, training_dataset


def coded_pair(h=12, w=16):
    """An image whose red channel spells its label, so misalignment is visible."""
    rng = np.random.default_rng(0)
    label = rng.integers(0, 9, size=(h, w)).astype(np.uint8)
    image = np.stack([label * 20, np.zeros_like(label), np.full_like(label, 7)], -1).astype(np.uint8)
    return image, label


def decode_red(image):
    return np.rint(np.asarray(image)[..., 0] * IMAGENET_STD[0] * 255 + IMAGENET_MEAN[0] * 255) / 20


def test_normalize_uses_imagenet_statistics():
    out = normalize(tf.constant([[[255, 0, 128]]], tf.uint8)).numpy()[0, 0]
    expected = (np.array([1.0, 0.0, 128 / 255]) - IMAGENET_MEAN) / IMAGENET_STD
    np.testing.assert_allclose(out, expected, rtol=1e-5)


def test_flip_and_crop_move_image_and_label_together():
    image, label = coded_pair()
    cfg = DomainConfig(resize=[12, 16], crop=[8, 10], flip=True)
    flipped = 0
    for s in range(20):
        out_image, out_label = augment(image, label, cfg, tf.constant([s, 1], tf.int64))
        np.testing.assert_array_equal(decode_red(out_image), out_label.numpy())
        # The crop is a window of the original or of its mirror image.
        windows = [label, label[:, ::-1]]
        found = [any(np.array_equal(win[r:r + 8, c:c + 10], out_label.numpy())
                     for r in range(5) for c in range(7)) for win in windows]
        assert any(found)
        flipped += found[1] and not found[0]
    assert 0 < flipped < 20


def test_crop_larger_than_image_pads_label_with_ignore():
    image, label = coded_pair(6, 8)
    cfg = DomainConfig(resize=[6, 8], crop=[10, 12], flip=False)
    _, out_label = augment(image, label, cfg, tf.constant([0, 0], tf.int64))
    out_label = out_label.numpy()
    assert out_label.shape == (10, 12)
    assert (out_label == 255).sum() == 10 * 12 - 6 * 8
    np.testing.assert_array_equal(out_label[out_label != 255].reshape(6, 8), label)


def test_unlabelled_domain_yields_images_only_and_streams_are_seeded():
    image, label = coded_pair()
    pairs = tf.data.Dataset.from_tensor_slices((np.stack([image] * 4), np.stack([label] * 4)))
    cfg = DomainConfig(resize=[12, 16], crop=[8, 8], flip=True, color_jitter=True, scale_range=[0.8, 1.2])
    first = next(iter(training_dataset(pairs, cfg, batch_size=2, seed=3, labelled=False)))
    again = next(iter(training_dataset(pairs, cfg, batch_size=2, seed=3, labelled=False)))
    other = next(iter(training_dataset(pairs, cfg, batch_size=2, seed=4, labelled=False)))
    assert first.shape == (2, 8, 8, 3)
    np.testing.assert_array_equal(first.numpy(), again.numpy())
    assert not np.array_equal(first.numpy(), other.numpy())
