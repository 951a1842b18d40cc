"""``fada_tf.adaptation.losses``: the losses (eq. 3, 5, 6) against independent numpy computations."""

import numpy as np
import pytest

from fada_tf.adaptation import (adversarial_loss, discriminator_loss, segmentation_loss,
                                soft_cross_entropy)
from tests.support.numpy_reference import log_softmax as np_log_softmax
from tests.support.numpy_reference import softmax as np_softmax
from tests.support.random_logits import K, logits, rng



def test_segmentation_loss_is_mean_cross_entropy_over_labelled_pixels():
    z = logits(2, 4, 4, K)
    labels = rng.integers(0, K, size=(2, 4, 4))
    labels[0, :2] = 255
    valid = labels != 255
    picked = np.take_along_axis(np_log_softmax(z), np.where(valid, labels, 0)[..., None], -1)[..., 0]
    expected = -(picked * valid).sum() / valid.sum()
    assert float(segmentation_loss(z, labels)) == pytest.approx(expected, rel=1e-5)


def test_segmentation_loss_of_a_fully_ignored_batch_is_zero():
    assert float(segmentation_loss(logits(1, 2, 2, K), np.full((1, 2, 2), 255))) == 0.0


def np_joint_ce(d_logits, targets):
    """Mean over pixels of -sum_k t_k log P(d, c=k | f), softmax over all 2K channels."""
    return float(np.mean(-(targets * np_log_softmax(d_logits)).sum(-1)))


def test_soft_cross_entropy():
    d = logits(2, 3, 3, 2 * K)
    t = rng.uniform(size=(2, 3, 3, 2 * K))
    assert float(soft_cross_entropy(d, t)) == pytest.approx(np_joint_ce(d, t), rel=1e-5)


def test_discriminator_loss_is_eq5_with_half_weights():
    d_src, d_tgt = logits(2, 3, 3, 2 * K), logits(2, 3, 3, 2 * K)
    a_src = np.minimum(np_softmax(logits(2, 3, 3, K)), 0.9)
    a_tgt = np.minimum(np_softmax(logits(2, 3, 3, K)), 0.9)
    zeros = np.zeros_like(a_src)
    # Source pixels are labelled (d=0, c=k): [a; 0]; target pixels (d=1, c=k): [0; a].
    expected = 0.5 * np_joint_ce(d_src, np.concatenate([a_src, zeros], -1)) \
        + 0.5 * np_joint_ce(d_tgt, np.concatenate([zeros, a_tgt], -1))
    got = float(discriminator_loss(d_src, d_tgt, a_src.astype(np.float32), a_tgt.astype(np.float32)))
    assert got == pytest.approx(expected, rel=1e-5)


def test_adversarial_loss_is_eq6_target_as_source():
    d_tgt = logits(2, 3, 3, 2 * K)
    a_tgt = np_softmax(logits(2, 3, 3, K)).astype(np.float32)
    per_pixel = -(a_tgt * np_log_softmax(d_tgt)[..., :K]).sum(-1)
    assert float(adversarial_loss(d_tgt, a_tgt)) == pytest.approx(per_pixel.mean(), rel=1e-5)
