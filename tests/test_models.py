"""Tests of fada_tf.models: shapes, torchvision conventions, initialisation, ImageNet transfer."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from fada_tf.config.schema import ModelConfig
from fada_tf.errors import FadaError
from fada_tf.models import build_discriminator, build_segmentor, discriminator_logits
from fada_tf.models import feature_channels
from fada_tf.models.aspp import AsppClassifierV2
from fada_tf.models.frozen_batch_norm import FrozenBatchNorm
from fada_tf.models.imagenet import (CAFFE_NORMALIZATION, load_imagenet_weights,
                                     transfer_keras_applications_weights)
from fada_tf.models.resnet import build_dilated_resnet
from fada_tf.models.tiny import build_tiny_backbone
from fada_tf.models.vgg import build_dilated_vgg16


def _conv_out(size):
    """Output size of a torch conv/pool with kernel k, stride 2, padding (k - 1) / 2."""
    return (size - 1) // 2 + 1


@pytest.fixture(scope="module")
def resnet50():
    return build_dilated_resnet(50, freeze_bn=True, seed=0)


@pytest.fixture(scope="module")
def resnet101():
    return build_dilated_resnet(101, freeze_bn=True, seed=0)


@pytest.fixture(scope="module")
def vgg16():
    return build_dilated_vgg16(seed=0)


@pytest.fixture(scope="module")
def random_keras_vgg16():
    """keras.applications VGG16 with random kernels and non-zero biases."""
    model = keras.applications.VGG16(weights=None, include_top=False)
    rng = np.random.default_rng(1)
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            layer.bias.assign(rng.normal(0.0, 0.1, layer.bias.shape).astype("float32"))
    return model


def _randomize_keras_resnet(model, rng):
    """Non-trivial BN statistics (small variances, so epsilon matters) and conv biases."""
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            layer.bias.assign(rng.normal(0.0, 0.1, layer.bias.shape).astype("float32"))
        elif isinstance(layer, keras.layers.BatchNormalization):
            shape = layer.gamma.shape
            variance = rng.uniform(1e-4, 1e-3, shape)
            layer.moving_variance.assign(variance.astype("float32"))
            layer.gamma.assign((np.sqrt(variance) * rng.uniform(0.5, 1.5, shape)).astype("float32"))
            layer.beta.assign(rng.normal(0.0, 0.1, shape).astype("float32"))
            layer.moving_mean.assign(rng.normal(0.0, 0.1, shape).astype("float32"))


def _fill_nan(model):
    for weight in model.weights:
        weight.assign(np.full(weight.shape, np.nan, "float32"))


def _outputs(model, names, x):
    """The outputs of the named layers of a functional model, as a list."""
    outputs = keras.Model(model.input, {name: model.get_layer(name).output for name in names})(x)
    return [outputs[name] for name in names]


def _relative_error(actual, expected):
    return float(np.max(np.abs(np.asarray(actual) - np.asarray(expected)))
                 / np.max(np.abs(np.asarray(expected))))


# --- shapes ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["resnet50", "resnet101", "vgg16", "tiny"])
def test_backbones_output_stride_8_and_channels(name, request):
    backbone = (build_tiny_backbone(16) if name == "tiny"
                else request.getfixturevalue(name))
    features = backbone(np.random.rand(1, 33, 49, 3).astype("float32"))
    if name == "vgg16":  # three 2x2 max-pools with floor
        expected = (33 // 8, 49 // 8)
    else:  # three stride-2 layers with torch padding
        expected = tuple(_conv_out(_conv_out(_conv_out(size))) for size in (33, 49))
    assert tuple(features.shape) == (1, *expected, feature_channels(name, 16))


def test_segmentor_outputs_features_and_logits_at_stride_8():
    model = build_segmentor(ModelConfig(backbone="tiny", tiny_width=8), num_classes=5)
    outputs = model(np.zeros((2, 64, 64, 3), "float32"))
    assert set(outputs) == {"features", "logits"}
    assert tuple(outputs["features"].shape) == (2, 8, 8, 64)
    assert tuple(outputs["logits"].shape) == (2, 8, 8, 5)


# --- torchvision conventions -------------------------------------------------------------------

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


def test_resnet_stride_sits_on_the_3x3_conv(resnet50):
    assert resnet50.get_layer("layer2.0.conv1").strides == (1, 1)
    assert resnet50.get_layer("layer2.0.conv2").strides == (2, 2)
    assert resnet50.get_layer("layer2.0.downsample.0").strides == (2, 2)
    assert not any(layer.use_bias for layer in resnet50.layers
                   if isinstance(layer, keras.layers.Conv2D))


def test_resnet101_dilation_pattern(resnet101):
    def conv2(layer, block):
        return resnet101.get_layer(f"layer{layer}.{block}.conv2")

    assert conv2(3, 0).dilation_rate == (1, 1)
    assert all(conv2(3, block).dilation_rate == (2, 2) for block in range(1, 23))
    assert conv2(4, 0).dilation_rate == (2, 2)
    assert all(conv2(4, block).dilation_rate == (4, 4) for block in (1, 2))
    for layer in (3, 4):
        assert resnet101.get_layer(f"layer{layer}.0.downsample.0").strides == (1, 1)
        assert all(conv2(layer, block).strides == (1, 1) for block in range(3))


def test_maxpool_is_3x3_stride_2_padding_1(resnet50):
    assert resnet50.get_layer("maxpool_pad").padding == ((1, 1), (1, 1))
    pool = resnet50.get_layer("maxpool")
    assert (pool.pool_size, pool.strides, pool.padding) == ((3, 3), (2, 2), "valid")


def test_vgg16_layout(vgg16):
    convs = [layer for layer in vgg16.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [layer.name for layer in convs][-5:] == ["conv5_1", "conv5_2", "conv5_3", "fc6", "fc7"]
    assert len(convs) == 15 and all(layer.use_bias for layer in convs)
    assert [layer.name for layer in vgg16.layers
            if isinstance(layer, keras.layers.MaxPooling2D)] == ["pool1", "pool2", "pool3"]
    assert all(vgg16.get_layer(f"conv5_{i}").dilation_rate == (2, 2) for i in (1, 2, 3))
    assert vgg16.get_layer("conv4_3").dilation_rate == (1, 1)
    assert all(vgg16.get_layer(name).dilation_rate == (4, 4) for name in ("fc6", "fc7"))
    assert vgg16.get_layer("fc7").kernel.shape == (3, 3, 1024, 1024)


# --- FrozenBatchNorm ---------------------------------------------------------------------------

def test_frozen_batch_norm_matches_numpy_without_epsilon():
    rng = np.random.default_rng(0)
    layer = FrozenBatchNorm()
    x = rng.normal(size=(2, 3, 4, 5)).astype("float32")
    layer.build(x.shape)
    gamma, beta, mean = (rng.normal(size=5).astype("float32") for _ in range(3))
    variance = rng.uniform(1e-5, 1e-4, 5).astype("float32")  # an epsilon of 1e-5 would show
    layer.set_weights([gamma, beta, mean, variance])
    scale = gamma / np.sqrt(variance)
    np.testing.assert_allclose(layer(x), x * scale + (beta - mean * scale), rtol=1e-5, atol=1e-5)
    assert [w.name for w in layer.weights] == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert FrozenBatchNorm.from_config(layer.get_config()).name == layer.name


def test_frozen_batch_norm_is_not_trained():
    inputs = keras.Input((4, 4, 2))
    outputs = FrozenBatchNorm(name="fbn")(keras.layers.Conv2D(3, 1, name="conv")(inputs))
    model = keras.Model(inputs, outputs)
    fbn = model.get_layer("fbn")
    fbn.set_weights([np.full(3, value, "float32") for value in (2.0, 0.5, 0.1, 3.0)])
    before = [w.numpy().copy() for w in fbn.weights]
    kernel_before = model.get_layer("conv").kernel.numpy().copy()
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    model.fit(np.ones((2, 4, 4, 2), "float32"), np.zeros((2, 4, 4, 3), "float32"), verbose=0)
    assert fbn.trainable_weights == [] and len(fbn.non_trainable_weights) == 4
    for weight, value in zip(fbn.weights, before):
        np.testing.assert_array_equal(weight.numpy(), value)
    assert not np.array_equal(model.get_layer("conv").kernel.numpy(), kernel_before)


# --- ASPP and the head/backbone split ----------------------------------------------------------

@pytest.mark.parametrize("size", [(20, 20), (5, 7), (13, 30)])
def test_aspp_is_the_sum_of_four_dilated_convs_at_known_and_unknown_sizes(size):
    """Known sizes run as tap products (taps beyond the map skipped), unknown sizes (dynamic
    export) as dilated convolutions: both must be the sum of eq.'s four dilated convs."""
    aspp = AsppClassifierV2(3, dilations=(6, 12, 18, 24), seed=0)
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


def test_head_variables_and_only_them_match_aspp():
    model = build_segmentor(ModelConfig(backbone="tiny", tiny_width=8), num_classes=4)
    head = model.get_layer("aspp").weights
    backbone = model.get_layer("backbone").weights
    assert head and all("aspp" in w.path for w in head)
    assert backbone and not any("aspp" in w.path for w in backbone)
    assert len(head) + len(backbone) == len(model.weights)


def test_segmentor_weights_round_trip(tmp_path):
    config = ModelConfig(backbone="tiny", tiny_width=8, freeze_bn=True)
    model = build_segmentor(config, num_classes=3)
    for weight in model.get_layer("backbone").non_trainable_weights:
        weight.assign(np.random.uniform(0.5, 1.5, weight.shape).astype("float32"))
    model.save_weights(tmp_path / "model.weights.h5")
    restored = build_segmentor(config, num_classes=3, seed=7)
    restored.load_weights(tmp_path / "model.weights.h5")
    for saved, loaded in zip(model.weights, restored.weights):
        assert saved.path == loaded.path
        np.testing.assert_array_equal(saved.numpy(), loaded.numpy())


def test_segmentor_keras_file_round_trip(tmp_path):
    model = build_segmentor(ModelConfig(backbone="tiny", tiny_width=8, freeze_bn=True), 3)
    model.save(tmp_path / "model.keras")
    restored = keras.saving.load_model(tmp_path / "model.keras")
    x = np.random.rand(1, 32, 32, 3).astype("float32")
    np.testing.assert_allclose(restored(x)["logits"], model(x)["logits"], rtol=1e-5, atol=1e-6)


# --- discriminator -----------------------------------------------------------------------------

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
    actual = _outputs(discriminator, ["D.1"], features)[0]
    np.testing.assert_allclose(actual, np.where(pre > 0, pre, 0.2 * pre), rtol=1e-5, atol=1e-6)


# --- seeded initialisation ---------------------------------------------------------------------

def test_same_seed_same_weights_different_seed_different_weights():
    first, second = build_tiny_backbone(8, seed=3), build_tiny_backbone(8, seed=3)
    other = build_tiny_backbone(8, seed=4)
    for a, b in zip(first.weights, second.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not np.array_equal(first.weights[0].numpy(), other.weights[0].numpy())


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


# --- ImageNet transfer -------------------------------------------------------------------------

@pytest.mark.parametrize("freeze_bn", [True, False])
def test_keras_applications_resnet50_transfer_folds_bias_and_epsilon(freeze_bn):
    source = keras.applications.ResNet50(weights=None, include_top=False)
    _randomize_keras_resnet(source, np.random.default_rng(0))
    backbone = build_dilated_resnet(50, freeze_bn=freeze_bn)
    _fill_nan(backbone)
    transfer_keras_applications_weights(source, backbone, "resnet50")
    assert not any(np.isnan(w.numpy()).any() for w in backbone.weights)
    x = tf.random.stateless_normal((1, 40, 40, 3), seed=(9, 10))
    expected = _outputs(source, ["pool1_pool", "conv2_block3_out"], x)
    actual = _outputs(backbone, ["maxpool", "layer1.2.out"], x)
    for a, e in zip(actual, expected):
        assert _relative_error(a, e) < 1e-4


def test_keras_applications_vgg16_transfer(random_keras_vgg16):
    backbone = build_dilated_vgg16(seed=0)
    fc_before = [w.numpy().copy() for name in ("fc6", "fc7")
                 for w in backbone.get_layer(name).weights]
    for name in [f"conv{b}_{i}" for b, n in zip(range(1, 6), (2, 2, 3, 3, 3))
                 for i in range(1, n + 1)]:
        _fill_nan(backbone.get_layer(name))
    transfer_keras_applications_weights(random_keras_vgg16, backbone, "vgg16")
    assert not any(np.isnan(w.numpy()).any() for w in backbone.weights)
    fc_after = [w.numpy() for name in ("fc6", "fc7") for w in backbone.get_layer(name).weights]
    for before, after in zip(fc_before, fc_after):
        np.testing.assert_array_equal(before, after)
    x = tf.random.stateless_normal((1, 40, 40, 3), seed=(11, 12))
    expected = _outputs(random_keras_vgg16,
                        ["block1_pool", "block2_pool", "block3_pool", "block4_conv3"], x)
    actual = _outputs(backbone, ["pool1", "pool2", "pool3", "relu4_3"], x)
    for a, e in zip(actual, expected):
        assert _relative_error(a, e) < 1e-4


def test_transfer_into_the_wrong_backbone_is_an_error(random_keras_vgg16):
    with pytest.raises(FadaError, match="block1_conv1"):
        transfer_keras_applications_weights(random_keras_vgg16, build_tiny_backbone(8), "vgg16")


def test_pretrained_path_is_passed_to_keras_applications(monkeypatch, tmp_path,
                                                         random_keras_vgg16):
    path = tmp_path / "vgg16_notop.h5"
    path.write_bytes(b"")
    calls = []

    def fake_vgg16(**kwargs):
        calls.append(kwargs)
        return random_keras_vgg16

    monkeypatch.setattr(keras.applications, "VGG16", fake_vgg16)
    backbone = build_dilated_vgg16()
    load_imagenet_weights(backbone, "vgg16", str(path), CAFFE_NORMALIZATION)  # fold: identity
    assert calls == [{"weights": str(path), "include_top": False}]
    np.testing.assert_array_equal(backbone.get_layer("conv1_1").bias.numpy(),
                                  random_keras_vgg16.get_layer("block1_conv1").bias.numpy())


def test_missing_weights_file_is_a_user_error(resnet50, tmp_path):
    missing = str(tmp_path / "nowhere.h5")
    with pytest.raises(FadaError, match="nowhere.h5"):
        load_imagenet_weights(resnet50, "resnet50", missing, CAFFE_NORMALIZATION)
    with pytest.raises(FadaError, match="nowhere.h5"):
        build_segmentor(ModelConfig(backbone="vgg16", pretrained=missing), 3)


def test_unreadable_weights_file_is_a_user_error(vgg16, tmp_path):
    path = tmp_path / "garbage.h5"
    path.write_bytes(b"not an hdf5 file")
    with pytest.raises(FadaError, match="garbage.h5"):
        load_imagenet_weights(vgg16, "vgg16", str(path), CAFFE_NORMALIZATION)


def test_failed_download_is_a_user_error(monkeypatch, resnet50):
    def offline(**kwargs):  # what keras' get_file raises without network
        raise Exception("URL fetch failure on https://storage.googleapis.com/...: None -- "
                        "[Errno -2] Name or service not known")

    monkeypatch.setattr(keras.applications, "ResNet50", offline)
    with pytest.raises(FadaError, match="set model.pretrained to its path") as error:
        load_imagenet_weights(resnet50, "resnet50", "imagenet", CAFFE_NORMALIZATION)
    assert "\n" not in str(error.value) and "resnet50_weights" in str(error.value)


def test_tiny_has_no_imagenet_weights():
    with pytest.raises(FadaError, match="tiny"):
        build_segmentor(ModelConfig(backbone="tiny", tiny_width=8, pretrained="imagenet"), 3)
