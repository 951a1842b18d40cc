"""``fada_tf.models.torch_conv``: PyTorch's symmetric padding of strided convolutions, its
He-normal (fan-out) initialisation, and a seed of its own for every layer."""

import numpy as np
import pytest
import tensorflow as tf

from fada_tf.models import build_discriminator
from fada_tf.models.aspp import AsppClassifierV2


@pytest.mark.parametrize("conv_name, padding", [("conv1", 3), ("layer2.0.conv2", 1)])
def test_strided_convs_pad_symmetrically_like_torch(resnet50, conv_name, padding):
    conv = resnet50.get_layer(conv_name)
    pad = resnet50.get_layer(f"{conv_name}_pad")
    channels = conv.kernel.shape[2]
    x = tf.random.stateless_normal((1, 16, 16, channels), seed=(1, 2))
    actual = conv(pad(x))
    paddings = [[0, 0], [padding, padding], [padding, padding], [0, 0]]
    expected = tf.nn.conv2d(x, conv.kernel, strides=2, padding=paddings)
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-4)
    keras_same = tf.nn.conv2d(x, conv.kernel, strides=2, padding="SAME")
    assert not np.allclose(keras_same, expected, atol=1e-3)


def test_same_shaped_layers_get_different_weights(resnet50):
    def kernel(model, name):
        return model.get_layer(name).kernel.numpy()

    assert not np.array_equal(kernel(resnet50, "layer1.1.conv1"),
                              kernel(resnet50, "layer1.2.conv1"))
    discriminator = build_discriminator(16, num_classes=4)
    assert not np.array_equal(kernel(discriminator, "cls1"), kernel(discriminator, "cls2"))
    aspp = AsppClassifierV2(4)
    aspp.build((None, None, None, 16))
    assert not np.array_equal(aspp.convs[0].kernel.numpy(), aspp.convs[1].kernel.numpy())


def test_he_normal_fan_out_std(resnet50):
    kernel = resnet50.get_layer("layer3.1.conv2").kernel.numpy()  # fan_out = 9 * 256
    assert abs(float(np.std(kernel)) / np.sqrt(2.0 / (9 * 256)) - 1.0) < 0.02
