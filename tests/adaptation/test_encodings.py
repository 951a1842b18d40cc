"""``fada_tf.adaptation.encodings``: the domain encodings (eq. 7, 8) against independent numpy
computations."""

import numpy as np
import pytest

from fada_tf.adaptation import domain_encoding
from tests.support.numpy_reference import softmax as np_softmax
from tests.support.random_logits import K, logits



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
