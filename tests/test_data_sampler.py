"""Class-balanced sampling follows its rule, draw by draw, and over-samples rare classes."""


import numpy as np
import pytest

from fada_tf.data.sampler import SUB_EPOCH_DRAWS, class_balanced_indices, sub_epoch
from fada_tf.errors import FadaError


def split_statistics():
    """200 images: class 0 everywhere and large, 1 in half, 2 in a fifth, 3 in four images and
    small, 4 nowhere (it must never be drawn)."""
    rng = np.random.default_rng(5)
    pixels = np.zeros((200, 5), np.int64)
    pixels[:, 0] = 5000
    pixels[rng.permutation(200)[:100], 1] = 1000
    pixels[rng.permutation(200)[:40], 2] = 200
    pixels[[3, 50, 120, 199], 3] = 20
    return pixels


def rule_probabilities(pixels, images):
    """P(class) before each draw, from the images drawn so far (written out independently)."""
    present = np.flatnonzero(pixels.sum(0) > 0)
    seen = np.cumsum(np.vstack([np.zeros(pixels.shape[1]), pixels[images[:-1]]]), axis=0)
    totals = seen.sum(1, keepdims=True)
    frequency = np.divide(seen, totals, out=np.zeros_like(seen), where=totals > 0)
    weights = np.zeros_like(seen)
    weights[:, present] = 1 / np.log(1.01 + frequency[:, present])
    return weights / weights.sum(1, keepdims=True)


def test_draws_follow_the_weighting_rule():
    pixels = split_statistics()
    images, drawn = sub_epoch(pixels, seed=0, index=0)
    assert len(images) == SUB_EPOCH_DRAWS
    assert (pixels[images, drawn] > 0).all()          # the image contains the drawn class
    p = rule_probabilities(pixels, images)
    observed = np.bincount(drawn, minlength=5)
    expected, std = p.sum(0), np.sqrt((p * (1 - p)).sum(0))
    assert observed[4] == 0
    assert (np.abs(observed - expected) <= 5 * std + 1).all(), (observed, expected.round(1))


def test_rare_classes_are_drawn_far_more_often_than_their_natural_frequency():
    pixels = split_statistics()
    images, _ = sub_epoch(pixels, seed=1, index=0)
    natural = (pixels[:, 3] > 0).mean()                # 2 % of the images hold class 3
    drawn = (pixels[images, 3] > 0).mean()
    assert drawn > 10 * natural
    # ... and the class pixel distribution of the draws is flatter than the split's.
    natural_share = pixels.sum(0)[3] / pixels.sum()
    drawn_share = pixels[images].sum(0)[3] / pixels[images].sum()
    assert drawn_share > 5 * natural_share


def test_each_class_walks_through_all_its_images_before_repeating():
    pixels = split_statistics()
    images, drawn = sub_epoch(pixels, seed=2, index=0)
    rare = images[drawn == 3]
    assert len(rare) >= 8
    assert set(rare[:4]) == {3, 50, 120, 199} and set(rare[4:8]) == {3, 50, 120, 199}


def test_sub_epochs_are_seeded_and_chain_into_an_endless_stream():
    pixels = split_statistics()
    a, _ = sub_epoch(pixels, seed=3, index=0, draws=50)
    np.testing.assert_array_equal(a, sub_epoch(pixels, seed=3, index=0, draws=50)[0])
    assert not np.array_equal(a, sub_epoch(pixels, seed=4, index=0, draws=50)[0])
    assert not np.array_equal(a, sub_epoch(pixels, seed=3, index=1, draws=50)[0])
    stream = list(class_balanced_indices(pixels, seed=3).take(SUB_EPOCH_DRAWS + 10).as_numpy_iterator())
    expected = np.concatenate([sub_epoch(pixels, 3, 0)[0], sub_epoch(pixels, 3, 1)[0][:10]])
    np.testing.assert_array_equal(stream, expected)


def test_a_split_without_labelled_pixels_cannot_be_balanced():
    with pytest.raises(FadaError, match="needs labelled pixels"):
        sub_epoch(np.zeros((3, 4)), seed=0, index=0)
