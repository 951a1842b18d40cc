"""``fada_tf.models.discriminator``: 2K output channels upsampled to the image, LeakyReLU(0.2)."""

import numpy as np
import tensorflow as tf

from fada_tf.models import build_discriminator, discriminator_logits
from tests.support.keras_models import layer_outputs


def test_discriminator_outputs_2k_channels_upsampled():
    discriminator = build_discriminator(32, num_classes=5, seed=0)
    features = tf.random.stateless_normal((2, 6, 7, 32), seed=(5, 6))
    assert tuple(discriminator(features).shape) == (2, 6, 7, 10)
    assert tuple(discriminator_logits(discriminator, features, (48, 56)).shape) == (2, 48, 56, 10)


def test_discriminator_uses_leaky_relu_0_2():
    discriminator = build_discriminator(8, num_classes=3, seed=0)
    conv = discriminator.get_layer("D.0")
    features = tf.random.stateless_normal((1, 5, 5, 8), seed=(7, 8))
    pre = (tf.nn.conv2d(features, conv.kernel, 1, "SAME") + conv.bias).numpy()
    assert (pre < 0).any() and (pre > 0).any()
    actual = layer_outputs(discriminator, ["D.1"], features)[0]
    np.testing.assert_allclose(actual, np.where(pre > 0, pre, 0.2 * pre), rtol=1e-5, atol=1e-6)
