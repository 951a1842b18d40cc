"""``fada_tf.models.segmentor``: every backbone at output stride 8 with its feature channels, the
segmentor's features and logits, the head/backbone split, and weights and ``.keras`` files
that round-trip."""

import keras
import numpy as np
import pytest

from fada_tf.config.schema import ModelConfig
from fada_tf.models import build_segmentor, feature_channels
from fada_tf.models.tiny import build_tiny_backbone


def _conv_out(size):
    """Output size of a torch conv/pool with kernel k, stride 2, padding (k - 1) / 2."""
    return (size - 1) // 2 + 1


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
