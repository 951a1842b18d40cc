"""``fada_tf.data.pipeline``, the tf.data pipeline: normalisation as the config says, image and
label aligned through the original's order of transforms (also in the batches of a prepared
dataset), labels padded with 255, seeded streams."""

import numpy as np
import pytest
import tensorflow as tf

from fada_tf.config.schema import ImageStream, NormalizationConfig
from fada_tf.data.datasets import stage_batches
from fada_tf.data.pipeline import augment, evaluation_image, normalize, training_dataset
from tests.support import raw_fixtures
from tests.support.prepared_data import experiment

TORCHVISION = NormalizationConfig()
CAFFE = NormalizationConfig(mean=[103.939, 116.779, 123.68], std=[1.0, 1.0, 1.0], to_bgr255=True)


def coded_pair(h=12, w=16):
    """An image whose red channel spells its label, so misalignment is visible."""
    rng = np.random.default_rng(0)
    label = rng.integers(0, 9, size=(h, w)).astype(np.uint8)
    image = np.stack([label * 20, np.zeros_like(label), np.full_like(label, 7)], -1).astype(np.uint8)
    return image, label


def decode_red(image):
    return np.rint(np.asarray(image)[..., 0] * TORCHVISION.std[0] * 255 + TORCHVISION.mean[0] * 255) / 20


@pytest.mark.parametrize("norm", [TORCHVISION, CAFFE], ids=["rgb-mean-std", "bgr255-caffe"])
def test_normalize_follows_the_original_transform(norm):
    """core/datasets/transform.py Normalize: to_bgr255 → image[[2, 1, 0]] * 255, then
    (x − mean) / std, on ToTensor's [0, 1] values."""
    rgb = np.array([[[255, 0, 128], [3, 200, 50]]], np.uint8)
    x = rgb.astype(np.float64) / 255.0
    if norm.to_bgr255:
        x = x[..., ::-1] * 255.0
    expected = (x - np.array(norm.mean)) / np.array(norm.std)
    np.testing.assert_allclose(normalize(tf.constant(rgb), norm).numpy(), expected, rtol=1e-5, atol=1e-4)


def test_flip_and_crop_move_image_and_label_together():
    image, label = coded_pair()
    stream = ImageStream(resize=[12, 16], crop=[8, 10], flip=0.5)
    flipped = 0
    for s in range(20):
        out_image, out_label = augment(image, label, stream, TORCHVISION, tf.constant([s, 1], tf.int64))
        np.testing.assert_array_equal(decode_red(out_image), out_label.numpy())
        # The crop is a window of the original or of its mirror image.
        windows = [label, label[:, ::-1]]
        found = [any(np.array_equal(win[r:r + 8, c:c + 10], out_label.numpy())
                     for r in range(5) for c in range(7)) for win in windows]
        assert any(found)
        flipped += found[1] and not found[0]
    assert 0 < flipped < 20


def test_no_flip_when_its_probability_is_zero():
    image, label = coded_pair()
    stream = ImageStream(resize=[12, 16], crop=[], flip=0.0)
    for s in range(10):
        _, out_label = augment(image, label, stream, TORCHVISION, tf.constant([s, 2], tf.int64))
        np.testing.assert_array_equal(out_label.numpy(), label)


def test_crop_larger_than_image_pads_label_with_ignore():
    image, label = coded_pair(6, 8)
    stream = ImageStream(resize=[6, 8], crop=[10, 12], flip=0.0)
    _, out_label = augment(image, label, stream, TORCHVISION, tf.constant([0, 0], tf.int64))
    out_label = out_label.numpy()
    assert out_label.shape == (10, 12)
    assert (out_label == 255).sum() == 10 * 12 - 6 * 8
    np.testing.assert_array_equal(out_label[out_label != 255].reshape(6, 8), label)


def test_random_scale_of_the_own_size_truncates_like_the_original():
    """transform.py RandomScale: (int(h·s), int(w·s)) of the image's own size (no resize
    first), then RandomCrop; labels by nearest neighbour keep their values."""
    image, label = coded_pair(20, 30)
    stream = ImageStream(resize=[], scale_range=[1.37, 1.37], crop=[27, 41], flip=0.0)
    out_image, out_label = augment(image, label, stream, TORCHVISION, tf.constant([1, 1], tf.int64))
    assert out_label.shape == (27, 41) == (int(20 * 1.37), int(30 * 1.37))
    assert set(np.unique(out_label.numpy())) <= set(np.unique(label))


def test_augmented_crops_and_flips_keep_image_and_label_aligned(data):
    root, found = data
    cfg = experiment(root, "cityscapes19", "gta5", "cityscapes", "source.source_images.resize=[24, 32]",
                     "source.source_images.crop=[16, 24]", "source.source_images.flip=0.5",
                     "source.batch_size=4")
    labels = [train for _, train in found["gta5"].values()]
    flipped = plain = 0
    for images, batch_labels in stage_batches(cfg, "source", "source", seed=0).take(6):
        red = images.numpy()[..., 0] * TORCHVISION.std[0] * 255 + TORCHVISION.mean[0] * 255
        np.testing.assert_array_equal(raw_fixtures.decode_red(red), batch_labels.numpy())
        for crop in batch_labels.numpy():
            windows = [[lab[r:r + 16, c:c + 24] for r in range(9) for c in range(9)] for lab in labels]
            plain += any(np.array_equal(w, crop) for ws in windows for w in ws)
            flipped += any(np.array_equal(w[:, ::-1], crop) for ws in windows for w in ws)
    assert plain > 0 and flipped > 0 and plain + flipped >= 24


def test_evaluation_images_are_resized_then_normalised():
    image, _ = coded_pair(24, 32)
    out = evaluation_image(tf.constant(image), [12, 16], CAFFE).numpy()
    assert out.shape == (12, 16, 3)
    # Channel 2 of the BGR input is the red channel minus the Caffe red mean.
    assert abs(out[..., 2].mean() + CAFFE.mean[2] - image[..., 0].mean()) < 2.0


def test_unlabelled_domain_yields_images_only_and_streams_are_seeded():
    image, label = coded_pair()
    pairs = tf.data.Dataset.from_tensor_slices((np.stack([image] * 4), np.stack([label] * 4)))
    stream = ImageStream(resize=[12, 16], crop=[8, 8], flip=0.5, color_jitter=[0.5, 0.5, 0.5, 0.2],
                         scale_range=[0.8, 1.2])
    first = next(iter(training_dataset(pairs, stream, TORCHVISION, batch_size=2, seed=3, labelled=False)))
    again = next(iter(training_dataset(pairs, stream, TORCHVISION, batch_size=2, seed=3, labelled=False)))
    other = next(iter(training_dataset(pairs, stream, TORCHVISION, batch_size=2, seed=4, labelled=False)))
    assert first.shape == (2, 8, 8, 3)
    np.testing.assert_array_equal(first.numpy(), again.numpy())
    assert not np.array_equal(first.numpy(), other.numpy())
