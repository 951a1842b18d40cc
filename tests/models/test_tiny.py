"""``fada_tf.models.tiny``: the tiny backbone's weights are a function of its seed."""

import numpy as np

from fada_tf.models.tiny import build_tiny_backbone


def test_same_seed_same_weights_different_seed_different_weights():
    first, second = build_tiny_backbone(8, seed=3), build_tiny_backbone(8, seed=3)
    other = build_tiny_backbone(8, seed=4)
    for a, b in zip(first.weights, second.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not np.array_equal(first.weights[0].numpy(), other.weights[0].numpy())
