"""``fada_tf.models.imagenet``: keras.applications ImageNet weights transferred into fada-tf's
backbones (bias and epsilon folded), and the errors of missing, unreadable or undownloadable
weights.

The normalisation fold and the other ``model.pretrained`` sources: tests/models/test_pretrained.py.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from fada_tf.config.schema import ModelConfig
from fada_tf.errors import FadaError
from fada_tf.models import build_segmentor
from fada_tf.models.imagenet import (CAFFE_NORMALIZATION, load_imagenet_weights,
                                     transfer_keras_applications_weights)
from fada_tf.models.resnet import build_dilated_resnet
from fada_tf.models.tiny import build_tiny_backbone
from fada_tf.models.vgg import build_dilated_vgg16
from tests.support.keras_models import layer_outputs, random_resnet50, random_vgg16
from tests.support.numpy_reference import relative_error


@pytest.fixture(scope="module")
def random_keras_vgg16():
    """keras.applications VGG16 with random kernels and non-zero biases."""
    return random_vgg16(seed=1, bias_std=0.1)


def _fill_nan(model):
    for weight in model.weights:
        weight.assign(np.full(weight.shape, np.nan, "float32"))


@pytest.mark.parametrize("freeze_bn", [True, False])
def test_keras_applications_resnet50_transfer_folds_bias_and_epsilon(freeze_bn):
    # Non-trivial BN statistics (small variances, so epsilon matters) and conv biases.
    source = random_resnet50(seed=0, variance_range=(1e-4, 1e-3), mean_std=0.1, gamma_times_std=True)
    backbone = build_dilated_resnet(50, freeze_bn=freeze_bn)
    _fill_nan(backbone)
    transfer_keras_applications_weights(source, backbone, "resnet50")
    assert not any(np.isnan(w.numpy()).any() for w in backbone.weights)
    x = tf.random.stateless_normal((1, 40, 40, 3), seed=(9, 10))
    expected = layer_outputs(source, ["pool1_pool", "conv2_block3_out"], x)
    actual = layer_outputs(backbone, ["maxpool", "layer1.2.out"], x)
    for a, e in zip(actual, expected):
        assert relative_error(a, e) < 1e-4


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
    expected = layer_outputs(random_keras_vgg16,
                             ["block1_pool", "block2_pool", "block3_pool", "block4_conv3"], x)
    actual = layer_outputs(backbone, ["pool1", "pool2", "pool3", "relu4_3"], x)
    for a, e in zip(actual, expected):
        assert relative_error(a, e) < 1e-4


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
