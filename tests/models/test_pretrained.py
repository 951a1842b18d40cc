"""``model.pretrained``: the original's ImageNet ``.pth``, a fada-tf ``.weights.h5``, and
keras.applications weights with ``model.normalization`` folded into the first conv.

The torch side is ``tests.support.torch_reference`` with random weights
(``tests.support.torch_weights``), saved with torchvision's key names; keras.applications
models are built with ``weights=None`` and given random weights, and stand in for the
download (monkeypatched).
"""

import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
import torch
from torch import nn

from fada_tf.config.schema import ModelConfig, NormalizationConfig
from fada_tf.data.pipeline import normalize
from fada_tf.errors import FadaError
from fada_tf.models import build_segmentor
from fada_tf.models.imagenet import (CAFFE_MEAN, CAFFE_NORMALIZATION, caffe_input_map,
                                     fold_input_normalization,
                                     transfer_keras_applications_weights)
from fada_tf.models.pretrained import URLS, load_pretrained
from fada_tf.models.segmentor import build_backbone
from tests.support.keras_models import random_resnet50, random_vgg16
from tests.support.numpy_reference import relative_error
from tests.support.torch_reference import DilatedResNet, fada_vgg16
from tests.support.torch_weights import image, randomize, state

PARITY = 1e-4
FLOAT32 = 1e-5     # relative: float32 rounding of a differently ordered sum
TORCHVISION = NormalizationConfig()
OTHER_BGR = NormalizationConfig(mean=[100.0, 110.0, 120.0], std=[50.0, 60.0, 70.0], to_bgr255=True)


def torch_features(module, x):
    """The torch module's output in float64, NHWC."""
    module = module.double()
    with torch.no_grad():
        out = module(x.double())
    module.float()
    return out.permute(0, 2, 3, 1).numpy()


def nhwc(x):
    return x.permute(0, 2, 3, 1).numpy()


def build(**fields):
    return build_backbone(ModelConfig(**fields), seed=5)


def one_line_error(config: ModelConfig, backbone=None) -> str:
    """The FadaError of loading ``config.pretrained`` (checked before the backbone is used)."""
    with pytest.raises(FadaError) as error:
        load_pretrained(backbone, config)
    message = str(error.value)
    assert "\n" not in message and f"model.pretrained={config.pretrained}" in message
    return message


# --- the original's .pth -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def resnet50_pth(tmp_path_factory):
    """A random ResNet-50 saved as torchvision does (with ``fc.``, without FADA's prefixes)."""
    backbone = randomize(DilatedResNet((3, 4, 6, 3)), image(1), seed=20)
    weights = state(backbone)
    weights.update({"fc.weight": torch.zeros(1000, 2048), "fc.bias": torch.zeros(1000),
                    "layer1.0.bn1.num_batches_tracked": torch.tensor(0)})
    path = tmp_path_factory.mktemp("pth") / "resnet50-19c8e357.pth"
    torch.save(weights, path)
    return {"module": backbone, "path": str(path)}


def test_pth_resnet50_gives_the_torch_backbone_and_keeps_the_head(resnet50_pth):
    config = ModelConfig(backbone="resnet50", freeze_bn=True, pretrained=resnet50_pth["path"])
    segmentor = build_segmentor(config, 19, seed=5)
    x = image(21)
    expected = torch_features(resnet50_pth["module"], x)
    actual = segmentor(nhwc(x))["features"]
    assert relative_error(np.asarray(actual), expected) < PARITY
    assert np.std(expected) > 0.1
    fresh = build_segmentor(ModelConfig(backbone="resnet50", freeze_bn=True), 19, seed=5)
    for kept, initial in zip(segmentor.get_layer("aspp").weights, fresh.get_layer("aspp").weights):
        np.testing.assert_array_equal(kept.numpy(), initial.numpy())


def test_pth_vgg16_caffe_file_fills_the_convs_and_keeps_fc6_fc7(tmp_path):
    """The Caffe VGG-16's layout: torchvision's ``features.N`` (pool4 and pool5 included) and
    classifier keys named differently from torchvision's, which are not used."""
    fada = randomize(fada_vgg16(), image(1), seed=22)
    torchvision_features = (list(fada)[:23] + [nn.MaxPool2d(2, 2)] + list(fada)[23:29]
                            + [nn.MaxPool2d(2, 2)])
    weights = {f"features.{key}": value
               for key, value in nn.Sequential(*torchvision_features).state_dict().items()}
    weights.update({"classifier.1.weight": torch.zeros(8, 8), "classifier.1.bias": torch.zeros(8),
                    "classifier.4.weight": torch.zeros(8, 8), "classifier.6.bias": torch.zeros(8)})
    torch.save(weights, tmp_path / "vgg16-00b39a1b.pth")
    backbone = build(backbone="vgg16", pretrained=str(tmp_path / "vgg16-00b39a1b.pth"),
                     normalization=CAFFE_NORMALIZATION)
    fresh = build(backbone="vgg16")
    with torch.no_grad():  # fc6/fc7 are not in the file: they keep fada-tf's initialisation
        for index, name in ((29, "fc6"), (31, "fc7")):
            kernel, bias = backbone.get_layer(name).get_weights()
            for value, initial in zip((kernel, bias), fresh.get_layer(name).get_weights()):
                np.testing.assert_array_equal(value, initial)
            fada[index].weight.copy_(torch.from_numpy(kernel.transpose(3, 2, 0, 1)))
            fada[index].bias.copy_(torch.from_numpy(bias))
    x = image(23)
    expected = torch_features(fada, x)
    assert relative_error(np.asarray(backbone(nhwc(x))), expected) < PARITY
    assert np.std(expected) > 0.01  # fc6/fc7 at torch's default init give small features


# --- a fada-tf segmentor's .weights.h5 ---------------------------------------------------------

@pytest.mark.parametrize("saved_frozen, frozen", [(True, True), (True, False), (False, True)])
def test_weights_h5_backbone_is_copied_across_batch_norm_kinds(tmp_path, saved_frozen, frozen):
    """E.g. a frozen-BN ImageNet conversion initialises a trainable-BN distillation student."""
    saved = build_segmentor(ModelConfig(backbone="resnet50", freeze_bn=saved_frozen), 7, seed=1)
    for weight in saved.get_layer("backbone").weights:  # BN statistics that differ from the init
        weight.assign(np.random.default_rng(len(weight.path)).uniform(0.5, 1.5, weight.shape))
    path = tmp_path / "imagenet-000000.weights.h5"
    saved.save_weights(path)
    config = ModelConfig(backbone="resnet50", freeze_bn=frozen, pretrained=str(path))
    segmentor = build_segmentor(config, 19, seed=2)  # another head: not read
    backbone = segmentor.get_layer("backbone")
    assert {type(layer).__name__ for layer in backbone.layers if "bn" in layer.name} == {
        "FrozenBatchNorm" if frozen else "TorchBatchNorm"}
    source = {w.path: w for w in saved.get_layer("backbone").weights}
    assert len(backbone.weights) == len(source)
    for weight in backbone.weights:
        np.testing.assert_array_equal(weight.numpy(), source[weight.path].numpy(), err_msg=weight.path)
    fresh = build_segmentor(ModelConfig(backbone="resnet50", freeze_bn=frozen), 19, seed=2)
    for kept, initial in zip(segmentor.get_layer("aspp").weights, fresh.get_layer("aspp").weights):
        np.testing.assert_array_equal(kept.numpy(), initial.numpy())


# --- keras.applications weights: the normalisation fold ---------------------------------------

def _random_keras_resnet50():
    return random_resnet50(seed=3, variance_range=(0.5, 2.0), mean_std=10.0)


def _random_keras_vgg16():
    return random_vgg16(seed=4, bias_std=1.0)


KERAS_MODELS = {"resnet50": ("ResNet50", _random_keras_resnet50, "bn1", 7, 2),
                "vgg16": ("VGG16", _random_keras_vgg16, "conv1_1", 3, 1)}


@pytest.fixture(scope="module")
def keras_sources():
    return {name: maker() for name, (_, maker, *_) in KERAS_MODELS.items()}


def _rgb_image(seed, size=(41, 38)):
    """An RGB image with values 0..255 (float), NHWC."""
    return np.random.default_rng(seed).uniform(0.0, 255.0, (1, *size, 3)).astype("float32")


def _caffe_input(rgb):
    return rgb[..., ::-1] - np.asarray(CAFFE_MEAN, "float32")


def _first_layer(backbone, name, x):
    layer = backbone.get_layer(KERAS_MODELS[name][2])
    return np.asarray(keras.Model(backbone.input, layer.output)(x), np.float64)


def _interior(size, kernel, stride):
    """Output indices along one axis whose window lies inside the image (no padding)."""
    padding = (kernel - 1) // 2
    out = (size + 2 * padding - kernel) // stride + 1
    index = np.arange(out)
    return (index * stride - padding >= 0) & (index * stride - padding + kernel <= size)


def _border_bound(backbone, name, normalization, size):
    """|folded - unfolded| <= |sum over padded taps t, channels j of W[t, j, o] * shift[j]|,
    times bn1's |gamma| / sqrt(var) for ResNet: the bound per output position and channel,
    computed as the unfolded first conv of a "padding-only" input."""
    _, _, layer_name, kernel, stride = KERAS_MODELS[name]
    conv = backbone.get_layer("conv1" if name != "vgg16" else "conv1_1")
    _, _, shift = caffe_input_map(normalization)
    padding = (kernel - 1) // 2
    inside = np.zeros((1, *size, 3))
    padded = np.pad(inside, ((0, 0), (padding, padding), (padding, padding), (0, 0)),
                    constant_values=1.0) * np.abs(shift)
    w = np.abs(conv.kernel.numpy().astype(np.float64))
    bound = tf.nn.conv2d(padded, w, stride, "VALID").numpy()
    if name != "vgg16":
        bn = backbone.get_layer("bn1")
        bound = bound * np.abs(bn.gamma.numpy()) / np.sqrt(bn.moving_variance.numpy())
    return bound


@pytest.mark.parametrize("normalization", [TORCHVISION, OTHER_BGR], ids=["torchvision", "bgr"])
@pytest.mark.parametrize("name", ["vgg16", "resnet50"])
def test_fold_is_exact_inside_and_bounded_at_the_border(name, normalization, keras_sources,
                                                        monkeypatch):
    """``pretrained: imagenet`` with our normalisation == the unfolded network fed Caffe input."""
    constructor, _, _, kernel, stride = KERAS_MODELS[name]
    source = keras_sources[name]
    monkeypatch.setattr(keras.applications, constructor, lambda **kwargs: source)
    folded = build(backbone=name, freeze_bn=True, pretrained="imagenet", normalization=normalization)
    unfolded = build(backbone=name, freeze_bn=True)
    transfer_keras_applications_weights(source, unfolded, name)

    rgb = _rgb_image(24)
    ours = normalize(tf.constant(rgb), normalization).numpy()
    actual = _first_layer(folded, name, ours)
    expected = _first_layer(unfolded, name, _caffe_input(rgb))
    size = rgb.shape[1:3]
    rows, cols = (_interior(n, kernel, stride) for n in size)
    inside = np.ix_([0], rows, cols)
    scale = np.max(np.abs(expected))
    interior = np.max(np.abs(actual - expected)[inside]) / scale
    difference = np.abs(actual - expected)
    bound = _border_bound(unfolded, name, normalization, size)
    border = np.max(difference) / scale
    print(f"{name} {normalization.to_bgr255}: interior {interior:.2e}, border {border:.2e} "
          f"(bound {np.max(bound) / scale:.2e}) of max |output| {scale:.1f}")
    assert interior < FLOAT32
    assert np.all(difference <= bound + FLOAT32 * scale)
    assert border > interior  # the padding, not rounding, is what differs


@pytest.mark.parametrize("name", ["vgg16", "resnet50"])
def test_fold_is_the_identity_for_caffe_input(name, keras_sources):
    backbone = build(backbone=name, freeze_bn=True)
    transfer_keras_applications_weights(keras_sources[name], backbone, name)
    before = [w.numpy().copy() for w in backbone.weights]
    fold_input_normalization(backbone, name, CAFFE_NORMALIZATION)
    for weight, value in zip(backbone.weights, before):
        np.testing.assert_array_equal(weight.numpy(), value)


def test_fold_into_a_trainable_batch_norm(keras_sources, monkeypatch):
    """The constant goes into bn1's moving mean, which TorchBatchNorm (epsilon 1e-5) uses in
    inference like FrozenBatchNorm."""
    source = keras_sources["resnet50"]
    monkeypatch.setattr(keras.applications, "ResNet50", lambda **kwargs: source)
    folded = build(backbone="resnet50", freeze_bn=False, pretrained="imagenet")
    unfolded = build(backbone="resnet50", freeze_bn=False)
    transfer_keras_applications_weights(source, unfolded, "resnet50")
    rgb = _rgb_image(25, (16, 16))
    actual = _first_layer(folded, "resnet50", normalize(tf.constant(rgb), TORCHVISION).numpy())
    expected = _first_layer(unfolded, "resnet50", _caffe_input(rgb))
    inside = np.ix_([0], _interior(16, 7, 2), _interior(16, 7, 2))
    assert np.max(np.abs(actual - expected)[inside]) / np.max(np.abs(expected)) < FLOAT32


# --- error messages ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["resnet101", "resnet50", "vgg16"])
def test_a_missing_pth_says_where_to_download_it(name, tmp_path):
    message = one_line_error(ModelConfig(backbone=name, pretrained=str(tmp_path / "weights.pth")))
    assert f"file not found; download the original's {name} weights from {URLS[name]}" in message
    assert "pip install 'fada-tf[torch]'" in message
    assert "fada-tf convert torch" in message and "imagenet-000000.weights.h5" in message


def test_the_original_urls():
    assert URLS == {"resnet101": "https://download.pytorch.org/models/resnet101-5d3b4d8f.pth",
                    "resnet50": "https://download.pytorch.org/models/resnet50-19c8e357.pth",
                    "vgg16": "https://web.eecs.umich.edu/~justincj/models/vgg16-00b39a1b.pth"}


def test_missing_weights_h5_and_keras_files(tmp_path):
    message = one_line_error(ModelConfig(backbone="resnet101",
                                         pretrained=str(tmp_path / "x.weights.h5")))
    assert "file not found" in message and "fada-tf convert torch FILE --imagenet" in message
    assert URLS["resnet101"] in message
    message = one_line_error(ModelConfig(backbone="resnet50", pretrained=str(tmp_path / "x.h5")))
    assert ("https://storage.googleapis.com/tensorflow/keras-applications/resnet/"
            "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5") in message


def test_a_pth_of_another_backbone_is_named(resnet50_pth):
    message = one_line_error(ModelConfig(backbone="vgg16", pretrained=resnet50_pth["path"]))
    assert "looks like a resnet50 checkpoint, but model.backbone is vgg16" in message
    assert URLS["vgg16"] in message


def test_a_weights_h5_of_another_backbone_is_named(tmp_path):
    build_segmentor(ModelConfig(backbone="resnet50", freeze_bn=True), 3).save_weights(
        tmp_path / "r50.weights.h5")
    message = one_line_error(ModelConfig(backbone="vgg16", pretrained=str(tmp_path / "r50.weights.h5")))
    assert "holds a resnet50 segmentor, but model.backbone is vgg16" in message


def test_a_weights_h5_of_another_model_is_explained(tmp_path):
    build_segmentor(ModelConfig(backbone="tiny", tiny_width=8), 3).save_weights(tmp_path / "t.weights.h5")
    config = ModelConfig(backbone="tiny", tiny_width=4, pretrained=str(tmp_path / "t.weights.h5"))
    with pytest.raises(FadaError, match="is not a fada-tf segmentor weights file for model.backbone=tiny"):
        build_backbone(config)


def test_without_pytorch_a_pth_says_what_to_install(resnet50_pth, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    message = one_line_error(ModelConfig(backbone="resnet50", pretrained=resnet50_pth["path"]))
    assert "needs PyTorch: pip install 'fada-tf[torch]'" in message
    assert "fada-tf convert torch resnet50-19c8e357.pth --imagenet" in message


def test_a_fada_checkpoint_is_not_an_imagenet_file(tmp_path):
    torch.save({"feature_extractor": {}, "classifier": {}}, tmp_path / "g2c.pth")
    message = one_line_error(ModelConfig(backbone="resnet50", pretrained=str(tmp_path / "g2c.pth")))
    assert "not a state dict" in message and "fada-tf convert torch" in message


@pytest.mark.parametrize("config, expected", [
    (ModelConfig(backbone="resnet50", pretrained="weights/resnet50"), "expected none, imagenet"),
    (ModelConfig(backbone="tiny", pretrained="x.pth"), "no PyTorch ImageNet checkpoint"),
])
def test_other_values_are_explained(config, expected):
    assert expected in one_line_error(config)
