"""``fada-tf convert torch``: PyTorch models with the original FADA's structure and key names,
written in plain torch.nn, give the same logits as fada-tf after conversion.

The torch side (``tests.support.torch_reference``) follows the original's description, not
fada-tf's code: torchvision's Bottleneck ResNet with ``replace_stride_with_dilation=[False,
True, True]`` and frozen BatchNorm, FADA's VGG-16 (pool4/pool5 removed, conv5 dilated 2,
fc6/fc7 dilated 4), ``ASPP_Classifier_V2`` and ``PixelDiscriminator``; logits upsampled with
``F.interpolate(bilinear, align_corners=True)``. Weights and BatchNorm statistics are random;
the reference runs in float64. Variants with a deliberately wrong dilation or stride must
*not* match, so the parity check can fail.
"""

import copy
import json
import pathlib
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner
from torch import nn

from fada_tf.cli.main import cli
from fada_tf.config import load_config
from fada_tf.config.recipe import stage_model
from fada_tf.convert import convert_torch_checkpoint
from fada_tf.convert.torch_names import segmentor_keys
from fada_tf.convert.transfer import to_keras
from fada_tf.errors import FadaError
from fada_tf.models import build_discriminator, build_segmentor
from fada_tf.models.resize import resize_bilinear
from fada_tf.training.checkpoints import restore_segmentor
from fada_tf.training.run_dir import RunDir
from tests.support.cli_invoke import run_process
from tests.support.numpy_reference import relative_error
from tests.support.torch_reference import (AsppClassifierV2, DilatedResNet, FeatureExtractor,
                                           PixelDiscriminator, fada_vgg16)
from tests.support.torch_weights import HEIGHT, WIDTH, image, randomize, state

PARITY = 1e-4       # largest relative difference of a faithful conversion
DIFFERENT = 1e-2    # smallest relative difference of a wrong architecture


R101_CONFIG = "configs/gta5_to_cityscapes_r101.yaml"
VGG_CONFIG = "configs/gta5_to_cityscapes_vgg16.yaml"
# The paper configs end with self-distillation (a trainable-BN student); an adapted model, which
# these frozen-BN torch models stand for, is the final network of a run without it.
ADAPTED = ["run.stages=[source,adapt]"]


# --- random weights that keep activations O(1) (and tests.support.torch_weights) ---------------

def small_head(classifier, seed):
    """ASPP weights N(0, 0.01) as the original initialises them, biases random."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for conv in classifier.conv2d_list:
            conv.weight.copy_(0.01 * torch.randn(conv.weight.shape, generator=generator))
            conv.bias.copy_(0.1 * torch.randn(conv.bias.shape, generator=generator))
    return classifier


def torch_logits(feature_extractor, classifier, x):
    """The original's inference in float64: logits upsampled with align_corners=True, NHWC."""
    feature_extractor, classifier = copy.deepcopy(feature_extractor).double(), copy.deepcopy(classifier).double()
    with torch.no_grad():
        logits = classifier(feature_extractor(x.double()))
        logits = F.interpolate(logits, size=(HEIGHT, WIDTH), mode="bilinear", align_corners=True)
    return logits.permute(0, 2, 3, 1).numpy()


def keras_logits(segmentor, x):
    logits = segmentor(x.permute(0, 2, 3, 1).numpy(), training=False)["logits"]
    return resize_bilinear(logits, (HEIGHT, WIDTH)).numpy()


def restored(run_dir):
    run = RunDir.open(run_dir)
    return restore_segmentor(run.load_config(), str(run.latest_checkpoint()))


# --- ResNet-101 --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def r101(tmp_path_factory):
    """A random ResNet-101 FADA model saved as the original does under DistributedDataParallel
    (``module.`` prefixes, with model_D and optimiser state), converted, then restored."""
    torch.manual_seed(0)
    features = randomize(FeatureExtractor(DilatedResNet((3, 4, 23, 3))), image(1), seed=2)
    classifier = small_head(AsppClassifierV2(2048, 19), seed=3)
    discriminator = randomize(PixelDiscriminator(2048, 19), torch.zeros(1, 2048, 4, 4), seed=4)
    folder = tmp_path_factory.mktemp("r101")
    checkpoint = folder / "g2c_sd.pth"
    torch.save({"iteration": 40000, "feature_extractor": state(features, "module."),
                "classifier": state(classifier, "module."), "model_D": state(discriminator, "module."),
                "optimizer_fea": {"state": {}, "param_groups": [{"lr": 2.5e-4}]}}, checkpoint)
    result = convert_torch_checkpoint(str(checkpoint), load_config(R101_CONFIG, ADAPTED),
                                      str(folder / "run"))
    segmentor = restored(folder / "run")
    return {"features": features, "classifier": classifier, "discriminator": discriminator,
            "result": result, "image": image(5),
            "keras_logits": keras_logits(segmentor, image(5))}


def test_resnet101_conversion_gives_pytorch_logits(r101):
    expected = torch_logits(r101["features"], r101["classifier"], r101["image"])
    actual = r101["keras_logits"]
    assert actual.shape == (1, HEIGHT, WIDTH, 19)
    assert relative_error(actual, expected) < PARITY
    assert np.std(expected) > 0.1  # activations neither vanished nor exploded


def test_resnet101_run_directory(r101):
    result = r101["result"]
    assert pathlib.Path(result["checkpoint"]).name == "converted-000000.weights.h5"
    assert result["ignored_entries"] == ["iteration", "optimizer_fea"]
    assert result["ignored_keys"] == []
    torch_tensors = sum(len(m.state_dict()) for m in (r101["features"], r101["classifier"],
                                                      r101["discriminator"]))
    assert result["tensors"] == torch_tensors
    config = RunDir.open(result["run_dir"]).load_config()
    # the weights come from the checkpoint: nothing is read when the run's networks are built
    assert config.model.backbone == "resnet101" and config.model.pretrained == "none"
    assert config.source.init_checkpoint == ""


def test_discriminator_is_converted(r101):
    features = torch.randn((1, 2048, 9, 13), generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        expected = copy.deepcopy(r101["discriminator"]).double()(features.double())
    discriminator = build_discriminator(2048, 19, seed=123)
    discriminator.load_weights(r101["result"]["discriminator"])
    actual = discriminator(features.permute(0, 2, 3, 1).numpy())
    assert relative_error(np.asarray(actual), expected.permute(0, 2, 3, 1).numpy()) < PARITY


@pytest.mark.parametrize("variant", [{"dilate_first_block": True}, {"stride_on_1x1": True}])
def test_resnet101_parity_check_fails_for_a_wrong_architecture(r101, variant):
    wrong = FeatureExtractor(DilatedResNet((3, 4, 23, 3), **variant))
    wrong.load_state_dict(r101["features"].state_dict())
    assert relative_error(r101["keras_logits"],
                          torch_logits(wrong, r101["classifier"], r101["image"])) > DIFFERENT


def test_a_self_distilled_checkpoint_converts_with_trainable_batch_norm(tmp_path):
    """The paper configs end with self-distillation, whose student has trainable BN (the
    original's nn.BatchNorm2d, epsilon 1e-5): a ``*_sd.pth`` converted with them gives the
    logits of that network in eval mode, and ``eval --run`` restores it."""
    frozen = randomize(FeatureExtractor(DilatedResNet((3, 4, 6, 3))), image(1), seed=17)
    student = FeatureExtractor(DilatedResNet((3, 4, 6, 3), norm_layer=nn.BatchNorm2d))
    missing, unused = student.load_state_dict(frozen.state_dict(), strict=False)
    assert unused == [] and all(key.endswith("num_batches_tracked") for key in missing)
    student.eval()
    classifier = small_head(AsppClassifierV2(2048, 19), seed=18)
    torch.save({"feature_extractor": state(student, "module."),
                "classifier": state(classifier, "module.")}, tmp_path / "g2c_sd.pth")
    config = load_config(R101_CONFIG, ["model.backbone=resnet50"])
    assert config.run.stages[-1] == "distill" and not config.distill.freeze_bn
    result = convert_torch_checkpoint(str(tmp_path / "g2c_sd.pth"), config, str(tmp_path / "run"))
    assert len(result["ignored_keys"]) == 53  # the BatchNorm counters
    x = image(19)
    actual = keras_logits(restored(result["run_dir"]), x)
    assert relative_error(actual, torch_logits(student, classifier, x)) < PARITY
    assert relative_error(actual, torch_logits(frozen, classifier, x)) > PARITY  # epsilon matters


# --- VGG-16 ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def vgg(tmp_path_factory):
    """A random FADA VGG-16 checkpoint without prefixes or discriminator."""
    torch.manual_seed(0)
    features = randomize(FeatureExtractor(fada_vgg16()), image(1), seed=7)
    classifier = small_head(AsppClassifierV2(1024, 19), seed=8)
    folder = tmp_path_factory.mktemp("vgg")
    checkpoint = {"feature_extractor": state(features), "classifier": state(classifier)}
    torch.save(checkpoint, folder / "g2c_vgg.pth")
    return {"features": features, "classifier": classifier, "folder": folder,
            "checkpoint": checkpoint, "path": folder / "g2c_vgg.pth"}


def test_vgg16_conversion_gives_pytorch_logits(vgg):
    result = convert_torch_checkpoint(str(vgg["path"]), load_config(VGG_CONFIG), str(vgg["folder"] / "run"))
    assert result["discriminator"] is None
    segmentor = restored(result["run_dir"])
    x = image(9)
    expected = torch_logits(vgg["features"], vgg["classifier"], x)
    assert relative_error(keras_logits(segmentor, x), expected) < PARITY
    assert np.std(expected) > 0.1

    wrong = FeatureExtractor(fada_vgg16(conv5_dilation=1))
    wrong.load_state_dict(vgg["features"].state_dict())
    assert relative_error(keras_logits(segmentor, x), torch_logits(wrong, vgg["classifier"], x)) > DIFFERENT


def _convert_error(tmp_path, checkpoint, config=VGG_CONFIG, overrides=(), imagenet=False):
    path = tmp_path / "checkpoint.pth"
    torch.save(checkpoint, path)
    with pytest.raises(FadaError) as error:
        convert_torch_checkpoint(str(path), load_config(config, overrides), str(tmp_path / "run"),
                                 imagenet=imagenet)
    assert not (tmp_path / "run").exists()
    message = str(error.value)
    assert "\n" not in message
    return message


def test_missing_unused_and_misshapen_keys_are_listed(vgg, tmp_path):
    checkpoint = copy.deepcopy(vgg["checkpoint"])
    del checkpoint["feature_extractor"]["backbone.0.bias"]
    checkpoint["feature_extractor"]["backbone.33.weight"] = torch.zeros(3)
    checkpoint["classifier"]["conv2d_list.1.weight"] = torch.zeros(16, 1024, 3, 3)
    message = _convert_error(tmp_path, checkpoint)
    assert "does not fit model.backbone=vgg16 with 19 classes" in message
    assert "1 missing keys: feature_extractor:backbone.0.bias" in message
    assert "1 unused keys: feature_extractor:backbone.33.weight" in message
    assert "1 shape mismatches: classifier:conv2d_list.1.weight 16x1024x3x3 (model: 19x1024x3x3)" in message


def test_a_checkpoint_of_another_backbone_is_named_and_long_lists_are_cut(r101, tmp_path):
    checkpoint = {"feature_extractor": state(r101["features"]), "classifier": {}}
    message = _convert_error(tmp_path, checkpoint)
    assert "(the checkpoint looks like a resnet101)" in message
    # VGG-16's 15 convs and the ASPP head's 4 (weight and bias each); ResNet-101's 104 convs,
    # 104 BNs (4 tensors each)
    assert "38 missing keys" in message and "520 unused keys" in message
    assert "... (514 more)" in message and len(message) < 2000


def test_objects_other_than_tensors_are_never_unpickled(tmp_path):
    marker = tmp_path / "code-ran"

    class Payload:
        def __reduce__(self):
            return pathlib.Path.touch, (marker,)

    message = _convert_error(tmp_path, {"feature_extractor": {}, "classifier": {}, "extra": Payload()})
    assert "not a tensor" in message and "weights_only=True" in message
    assert not marker.exists()


def test_without_pytorch_the_error_says_what_to_install(tmp_path, monkeypatch):
    torch.save({}, tmp_path / "checkpoint.pth")
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(FadaError, match=r"needs PyTorch: pip install 'fada-tf\[torch\]'"):
        convert_torch_checkpoint(str(tmp_path / "checkpoint.pth"), load_config(VGG_CONFIG),
                                 str(tmp_path / "run"))


@pytest.mark.parametrize("checkpoint, expected", [
    ({"conv1.weight": torch.zeros(1)}, "is not a FADA checkpoint"),
    ({"feature_extractor": {"a": 1}, "classifier": {}}, "1 entries are not tensors: a"),
])
def test_other_layouts_are_explained(tmp_path, checkpoint, expected):
    message = _convert_error(tmp_path, checkpoint)
    assert expected in message


# --- torchvision ImageNet checkpoints ----------------------------------------------------------

def test_imagenet_resnet50_fills_the_backbone_and_keeps_the_paper_head(tmp_path):
    backbone = randomize(DilatedResNet((3, 4, 6, 3)), image(1), seed=10)
    weights = state(backbone)
    weights.update({"fc.weight": torch.zeros(1000, 2048), "fc.bias": torch.zeros(1000),
                    "bn1.num_batches_tracked": torch.tensor(0)})
    torch.save(weights, tmp_path / "resnet50-imagenet.pth")
    config = load_config(R101_CONFIG, ["model.backbone=resnet50", "run.seed=3", *ADAPTED])
    result = convert_torch_checkpoint(str(tmp_path / "resnet50-imagenet.pth"), config,
                                      str(tmp_path / "run"), imagenet=True)
    assert result["ignored_keys"] == ["bn1.num_batches_tracked", "fc.bias", "fc.weight"]
    assert pathlib.Path(result["checkpoint"]).name == "imagenet-000000.weights.h5"

    run_config = RunDir.open(result["run_dir"]).load_config()
    assert run_config.model.pretrained == str(pathlib.Path(result["checkpoint"]).resolve())
    segmentor = restored(result["run_dir"])
    x = image(11)
    with torch.no_grad():
        expected = copy.deepcopy(backbone).double()(x.double()).permute(0, 2, 3, 1).numpy()
    actual = segmentor(x.permute(0, 2, 3, 1).numpy())["features"]
    assert relative_error(np.asarray(actual), expected) < PARITY
    fresh = build_segmentor(run_config.model, 19, seed=3).get_layer("aspp")
    for kept, initial in zip(segmentor.get_layer("aspp").weights, fresh.weights):
        np.testing.assert_array_equal(kept.numpy(), initial.numpy())


def test_imagenet_conversion_initialises_every_fresh_network_of_the_run(tmp_path):
    """A network built afresh from the converted run's config, as the source stage and a
    ``distill.student_init: model`` student (trainable BN) build theirs, starts from the
    converted ImageNet backbone, not from a random one."""
    backbone = randomize(DilatedResNet((3, 4, 6, 3)), image(1), seed=16)
    weights = state(backbone)
    weights.update({"fc.weight": torch.zeros(1000, 2048), "fc.bias": torch.zeros(1000)})
    torch.save(weights, tmp_path / "resnet50-imagenet.pth")
    config = load_config(R101_CONFIG, ["model.backbone=resnet50", "distill.freeze_bn=false",
                                       "distill.student_init=model"])
    result = convert_torch_checkpoint(str(tmp_path / "resnet50-imagenet.pth"), config,
                                      str(tmp_path / "run"), imagenet=True)
    run_config = RunDir.open(result["run_dir"]).load_config()
    assert run_config.model.pretrained == str(pathlib.Path(result["checkpoint"]).resolve())
    assert run_config.source.init_checkpoint == ""
    for model_config in (run_config.model, stage_model(run_config, "distill")):
        fresh = build_segmentor(model_config, 19, seed=run_config.run.seed + 7)
        keys = segmentor_keys(fresh, "resnet50", imagenet=True)
        assert len(keys) == len(state(backbone))
        for key, variable in keys.items():
            np.testing.assert_array_equal(variable.numpy(), to_keras(weights[key].numpy()), err_msg=key)


def test_imagenet_vgg16_uses_torchvision_indices(tmp_path):
    """torchvision's features.N (with pool4/pool5) land where FADA's re-indexed backbone puts them."""
    fada = randomize(fada_vgg16(), image(1), seed=12)
    torchvision_features = list(fada)[:23] + [nn.MaxPool2d(2, 2)] + list(fada)[23:29] + [nn.MaxPool2d(2, 2)]
    weights = {f"features.{key}": value for key, value in nn.Sequential(*torchvision_features).state_dict().items()}
    weights.update({"classifier.0.weight": torch.zeros(4, 4), "classifier.6.bias": torch.zeros(4)})
    torch.save(weights, tmp_path / "vgg16-imagenet.pth")
    result = convert_torch_checkpoint(str(tmp_path / "vgg16-imagenet.pth"), load_config(VGG_CONFIG),
                                      str(tmp_path / "run"), imagenet=True)
    segmentor = restored(result["run_dir"])
    backbone = segmentor.get_layer("backbone")
    with torch.no_grad():  # fc6 and fc7 are not in the checkpoint: use fada-tf's initial ones
        for index, name in ((29, "fc6"), (31, "fc7")):
            kernel, bias = backbone.get_layer(name).get_weights()
            fada[index].weight.copy_(torch.from_numpy(kernel.transpose(3, 2, 0, 1)))
            fada[index].bias.copy_(torch.from_numpy(bias))
        x = image(13)
        expected = fada.double()(x.double()).permute(0, 2, 3, 1).numpy()
    actual = segmentor(x.permute(0, 2, 3, 1).numpy())["features"]
    assert relative_error(np.asarray(actual), expected) < PARITY


# --- the command line --------------------------------------------------------------------------

SMALL_SYNTHETIC = ["--set", "model.backbone=resnet50", "--set", "model.freeze_bn=true",
                   "--set", "data.synthetic.height=32", "--set", "data.synthetic.width=48",
                   "--set", "data.eval_size=[32,48]", "--set", "data.synthetic.target_val_images=2"]


def test_convert_then_eval_on_the_command_line(tmp_path):
    torch.manual_seed(0)
    features = randomize(FeatureExtractor(DilatedResNet((3, 4, 6, 3))), image(1), seed=14)
    torch.save({"feature_extractor": state(features),
                "classifier": state(small_head(AsppClassifierV2(2048, 9), seed=15))},
               tmp_path / "r50.pth")
    run_dir = tmp_path / "run"
    converted = run_process("convert", "torch", str(tmp_path / "r50.pth"), "--config", "configs/synthetic.yaml",
                            *SMALL_SYNTHETIC, "--out", str(run_dir), "--json", check=False)
    assert converted.returncode == 0, converted.stderr[-3000:]
    assert json.loads(converted.stdout)["run_dir"] == str(run_dir)

    evaluated = run_process("eval", "--run", str(run_dir), "--json", check=False)
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    result = json.loads(evaluated.stdout)
    assert result["num_images"] == 2 and 0.0 <= result["miou"] <= 1.0
    assert result["checkpoint"].endswith("converted-000000.weights.h5")

    again = run_process("convert", "torch", str(tmp_path / "r50.pth"), "--config", "configs/synthetic.yaml",
                        *SMALL_SYNTHETIC, "--out", str(run_dir), check=False)
    assert again.returncode != 0 and "already exists" in again.stderr
    assert "Traceback" not in again.stderr


def test_imagenet_conversion_on_the_command_line_points_the_config_at_it(tmp_path):
    weights = state(randomize(DilatedResNet((3, 4, 6, 3)), image(1), seed=30))
    torch.save(weights, tmp_path / "resnet50-19c8e357.pth")
    result = CliRunner().invoke(cli, ["convert", "torch", str(tmp_path / "resnet50-19c8e357.pth"),
                                      "--imagenet", "--config", R101_CONFIG, "--set",
                                      "model.backbone=resnet50", "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    checkpoint = (tmp_path / "run" / "checkpoints" / "imagenet-000000.weights.h5").resolve()
    assert RunDir.open(tmp_path / "run").load_config().model.pretrained == str(checkpoint)
    assert "sets model.pretrained to it" in result.output
    assert f"Next: fada-tf train --config {tmp_path / 'run'}/config.yaml" in result.output


@pytest.mark.parametrize("args, message", [
    (["no/such.pth", "--config", "configs/synthetic.yaml", "--set", "model.backbone=vgg16"],
     "checkpoint not found: no/such.pth"),
    (["{checkpoint}", "--config", "configs/synthetic.yaml"],
     "model.backbone=tiny has no PyTorch counterpart"),
])
def test_command_line_errors_are_one_line(tmp_path, args, message):
    torch.save({"feature_extractor": {}, "classifier": {}}, tmp_path / "empty.pth")
    args = [arg.format(checkpoint=tmp_path / "empty.pth") for arg in args]
    result = CliRunner().invoke(cli, ["convert", "torch", *args, "--out", str(tmp_path / "run")])
    assert result.exit_code == 1
    assert f"Error: {message}" in result.output
    assert not (tmp_path / "run").exists()
