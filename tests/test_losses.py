"""Domain encodings (eq. 7, 8) and losses (eq. 3, 5, 6) against independent numpy computations."""

import numpy as np
import pytest

from fada_tf.adaptation import (adversarial_loss, discriminator_loss, domain_encoding,
                                segmentation_loss, soft_cross_entropy)

rng = np.random.default_rng(0)
K = 5


def np_softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def np_log_softmax(z):
    return np.log(np_softmax(z.astype(np.float64)))


def logits(*shape, scale=3.0):
    return (rng.normal(size=shape) * scale).astype(np.float32)


def test_soft_encoding_is_tempered_softmax_clipped_not_renormalised():
    z = logits(2, 4, 6, K, scale=6.0)
    a = np.asarray(domain_encoding(z, "soft", temperature=1.8, clip=0.9))
    expected = np.minimum(np_softmax(z / 1.8), 0.9)
    np.testing.assert_allclose(a, expected, atol=1e-6)
    assert (a.max(-1) <= 0.9 + 1e-7).all()
    assert (a.sum(-1) < 1 - 1e-3).any(), "clipped rows must not be renormalised"


def test_temperature_flattens_the_soft_labels():
    z = logits(1, 3, 3, K)
    sharp = np.asarray(domain_encoding(z, "soft", temperature=1.0, clip=1.0))
    soft = np.asarray(domain_encoding(z, "soft", temperature=1.8, clip=1.0))
    assert (soft.max(-1) < sharp.max(-1)).all()


def test_hard_encoding_is_one_hot_argmax_with_confidence_threshold():
    z = logits(2, 5, 5, K, scale=2.0)
    a = np.asarray(domain_encoding(z, "hard", temperature=1.8, threshold=0.6))
    probs = np_softmax(z / 1.8)
    confident = probs.max(-1) >= 0.6
    assert 0 < confident.mean() < 1, "test data must have both kinds of pixels"
    expected = np.eye(K)[z.argmax(-1)] * confident[..., None]
    np.testing.assert_array_equal(a, expected)


def test_binary_encoding_is_a_single_domain_channel():
    a = np.asarray(domain_encoding(logits(2, 3, 4, K), "binary"))
    assert a.shape == (2, 3, 4, 1) and (a == 1).all()


def test_unknown_encoding_is_rejected():
    with pytest.raises(ValueError, match="unknown domain encoding"):
        domain_encoding(logits(1, 2, 2, K), "fuzzy")


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
