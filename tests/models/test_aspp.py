"""``fada_tf.models.aspp``: the ASPP classifier is the sum of four dilated convolutions at known
and unknown sizes, computed either way, initialised as the original's."""

import numpy as np
import pytest
import tensorflow as tf

from fada_tf.config.schema import ModelConfig
from fada_tf.models import build_segmentor
from fada_tf.models.aspp import AsppClassifierV2, resolve_aspp_method


@pytest.mark.parametrize("method", ["dilated", "tap_products"])
@pytest.mark.parametrize("size", [(20, 20), (5, 7), (13, 30)])
def test_aspp_is_the_sum_of_four_dilated_convs_at_known_and_unknown_sizes(size, method):
    """Known sizes run as the method says (tap products skip the taps beyond the map), unknown
    sizes (dynamic export) as dilated convolutions: all must be the sum of the four dilated
    convs, with the same gradients."""
    aspp = AsppClassifierV2(3, dilations=(6, 12, 18, 24), seed=0, method=method)
    x = tf.random.stateless_normal((2, *size, 16), seed=(3, 4))
    aspp(x)
    rng = np.random.default_rng(0)
    for conv in aspp.convs:
        conv.bias.assign(rng.normal(size=3).astype("float32"))
    expected = sum(tf.nn.conv2d(x, conv.kernel, 1, "SAME", dilations=d) + conv.bias
                   for conv, d in zip(aspp.convs, (6, 12, 18, 24)))
    np.testing.assert_allclose(aspp(x), expected, rtol=1e-5, atol=1e-5)
    unknown = tf.function(aspp, input_signature=[tf.TensorSpec([None, None, None, 16])])
    np.testing.assert_allclose(unknown(x), expected, rtol=1e-5, atol=1e-5)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(aspp(x) ** 2)
    with tf.GradientTape() as reference_tape:
        reference_tape.watch(x)
        reference = tf.reduce_sum(sum(tf.nn.conv2d(x, conv.kernel, 1, "SAME", dilations=d) + conv.bias
                                      for conv, d in zip(aspp.convs, (6, 12, 18, 24))) ** 2)
    np.testing.assert_allclose(tape.gradient(loss, x), reference_tape.gradient(reference, x),
                               rtol=1e-4, atol=1e-4)


def test_aspp_init_is_the_originals():
    """core/models/classifier.py:23-24: kernels N(0, 0.01); biases left at nn.Conv2d's default
    U(±1/sqrt(9 · in_channels)), each conv with its own seed."""
    aspp = AsppClassifierV2(5, seed=0)
    aspp.build((None, None, None, 2048))
    bound = 1.0 / np.sqrt(9 * 2048)
    biases = [conv.bias.numpy() for conv in aspp.convs]
    for conv, bias in zip(aspp.convs, biases):
        assert abs(float(np.std(conv.kernel.numpy())) - 0.01) < 5e-4
        assert np.all(np.abs(bias) <= bound) and np.abs(bias).max() > 0.5 * bound
    assert len({b.tobytes() for b in biases}) == len(biases)
    again = AsppClassifierV2(5, seed=0)
    again.build((None, None, None, 2048))
    np.testing.assert_array_equal(again.convs[0].bias.numpy(), biases[0])


def test_aspp_method_auto_takes_dilated_convs_where_a_gpu_is_visible(monkeypatch):
    """``auto``: tap products on a machine without a GPU (measured faster on CPUs), the standard
    dilated convolutions where Keras lists a GPU; the segmentor's head gets the resolved method."""
    assert resolve_aspp_method("auto") == "tap_products"    # this machine has no GPU
    devices = {"gpu": ["gpu:0"], None: ["cpu:0", "gpu:0"]}
    monkeypatch.setattr("keras.distribution.list_devices", lambda kind=None: devices[kind])
    assert resolve_aspp_method("auto") == "dilated"
    assert build_segmentor(ModelConfig(), 3).get_layer("aspp").method == "dilated"
    assert resolve_aspp_method("tap_products") == "tap_products"
    with pytest.raises(ValueError, match="'taps'"):
        resolve_aspp_method("taps")
    with pytest.raises(ValueError, match="'auto'"):
        AsppClassifierV2(3, method="auto")
