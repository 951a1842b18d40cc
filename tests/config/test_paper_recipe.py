"""Every paper config resolves to the original implementation's recipe, stage by stage.

The expected values are written out here from the original code (github.com/JDAI-CV/FADA:
core/configs/defaults.py, configs/deeplabv2_*.yaml, core/datasets/build.py, train_src.py,
train_adv.py, train_self_distill.py, test.py, train_with_sd.sh) in its own terms — yacs keys,
sizes as (width, height) — and translated to fada-tf's keys only in ``resolved``; they are not
generated from our configs. Where the paper's text differs (weight decay 1e-4, source-stage
learning rate 2.5e-4), the code's value is expected.
"""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from fada_tf.cli.main import cli
from fada_tf.config import load_config
from fada_tf.config.recipe import eval_size, stage_model

CONFIGS = Path(__file__).resolve().parents[2] / "configs"

# core/configs/defaults.py
DEFAULTS = {"SOURCE_INPUT_SIZE_TRAIN": (1280, 720), "TARGET_INPUT_SIZE_TRAIN": (1024, 512),
            "INPUT_SIZE_TEST": (1024, 512), "INPUT_SCALES_TRAIN": (1.0, 1.0),
            "PIXEL_MEAN": [0.485, 0.456, 0.406], "PIXEL_STD": [0.229, 0.224, 0.225],
            "TO_BGR255": False, "JITTER": (0.0, 0.0, 0.0, 0.0), "HORIZONTAL_FLIP_PROB_TRAIN": 0.0,
            "LR_POWER": 0.9, "MOMENTUM": 0.9, "WEIGHT_DECAY": 0.0005, "FREEZE_BN": False}
CAFFE = {"PIXEL_MEAN": [103.939, 116.779, 123.68], "PIXEL_STD": [1.0, 1.0, 1.0], "TO_BGR255": True}
JITTER = {"JITTER": (0.5, 0.5, 0.5, 0.2)}
SRC_SOLVER = {"BASE_LR": 5e-4, "MAX_ITER": 31250, "STOP_ITER": 20000, "BATCH_SIZE": 8}
ADV_SOLVER = {"BASE_LR": 2.5e-4, "BASE_LR_D": 1e-4, "MAX_ITER": 62500, "STOP_ITER": 40000,
              "BATCH_SIZE": 8}
SD_INPUT = {"SOURCE_INPUT_SIZE_TRAIN": (1024, 512), "INPUT_SIZE_TEST": (2048, 1024),
            "INPUT_SCALES_TRAIN": (0.5, 1.5), "HORIZONTAL_FLIP_PROB_TRAIN": 0.5}


def original(backbone: str, source: str) -> dict:
    """The original's settings of the three stages (stage -> yacs-like dict)."""
    weights = {"resnet101": "resnet101-5d3b4d8f.pth", "vgg16": "vgg16-00b39a1b.pth"}[backbone]
    common = DEFAULTS | {"WEIGHTS": weights} | (CAFFE if backbone == "vgg16" else {})
    if source == "synthia":
        common |= {"SOURCE_INPUT_SIZE_TRAIN": (1280, 760)}
    frozen = {"FREEZE_BN": True} if backbone == "resnet101" else {}
    # deeplabv2_{r101,vgg16}_tgt[_synthia]_self_distill.yaml: R101 GTA5 trains BN; the
    # repository's newest SYNTHIA R101 file freezes it; VGG-16 sets no colour jitter.
    sd_bn = {"FREEZE_BN": backbone == "resnet101" and source == "synthia"}
    sd_jitter = JITTER if backbone == "resnet101" else {}
    return {
        "source": common | frozen | SRC_SOLVER,
        "adapt": common | frozen | JITTER | ADV_SOLVER,
        "distill": common | sd_bn | SD_INPUT | sd_jitter | SRC_SOLVER,
    }


def hw(size):
    """The original's (width, height) as fada-tf's [height, width]."""
    return [size[1], size[0]]


def resolved(config, stage: str) -> dict:
    """A fada-tf config's stage in the original's terms."""
    s = getattr(config, stage)
    model = stage_model(config, stage)
    norm = config.model.normalization
    stream = s.target_images if stage == "distill" else s.source_images
    out = {
        "WEIGHTS": Path(model.pretrained).name,
        "FREEZE_BN": model.freeze_bn,
        "PIXEL_MEAN": norm.mean, "PIXEL_STD": norm.std, "TO_BGR255": norm.to_bgr255,
        "BASE_LR": s.optimizer.learning_rate, "MAX_ITER": s.optimizer.schedule_horizon,
        "STOP_ITER": s.steps, "LR_POWER": s.optimizer.poly_power, "MOMENTUM": s.optimizer.momentum,
        "WEIGHT_DECAY": s.optimizer.weight_decay,
        "JITTER": tuple(stream.color_jitter), "HORIZONTAL_FLIP_PROB_TRAIN": stream.flip,
        "INPUT_SCALES_TRAIN": tuple(stream.scale_range),
        "INPUT_SIZE_TEST": tuple(reversed(eval_size(config, stage))),
        # the original's train_adv.py splits BATCH_SIZE between the two domains
        "BATCH_SIZE": s.batch_size * (2 if stage == "adapt" else 1),
    }
    if stage == "distill":
        out["SOURCE_INPUT_SIZE_TRAIN"] = tuple(reversed(stream.crop))
    else:
        out["SOURCE_INPUT_SIZE_TRAIN"] = tuple(reversed(stream.resize))
    if stage == "adapt":
        out["BASE_LR_D"] = s.discriminator_optimizer.learning_rate
        out["TARGET_INPUT_SIZE_TRAIN"] = tuple(reversed(s.target_images.resize))
    return out


EXPERIMENTS = [("gta5_to_cityscapes_r101.yaml", "resnet101", "gta5"),
               ("synthia_to_cityscapes_r101.yaml", "resnet101", "synthia"),
               ("gta5_to_cityscapes_vgg16.yaml", "vgg16", "gta5"),
               ("synthia_to_cityscapes_vgg16.yaml", "vgg16", "synthia")]


@pytest.mark.parametrize("stage", ["source", "adapt", "distill"])
@pytest.mark.parametrize("file, backbone, source", EXPERIMENTS)
def test_paper_configs_resolve_to_the_original_recipe(file, backbone, source, stage):
    config = load_config(CONFIGS / file)
    assert config.model.backbone == backbone
    assert config.data.source.dataset == source
    got = resolved(config, stage)
    expected = {key: original(backbone, source)[stage][key] for key in got}
    assert got == expected, {k: (got[k], expected[k]) for k in got if got[k] != expected[k]}


@pytest.mark.parametrize("file, backbone, source", EXPERIMENTS)
def test_what_the_original_hard_codes_or_derives(file, backbone, source):
    """train_adv.py: λ 0.001, T 1.8, clip 0.9, Adam betas (0.9, 0.99), classifier at 10x;
    build.py: jitter only on the source, no crop when the scales are (1, 1), the class-balanced
    list of MAX_ITER x BATCH_SIZE draws; train_with_sd.sh: all three stages, single-scale pseudo
    labels at the adaptation config's test size, a fresh ImageNet-initialised student."""
    config = load_config(CONFIGS / file)
    adapt, distill = config.adapt, config.distill
    assert (adapt.lambda_adv, adapt.temperature, adapt.clip, adapt.encoding) == (0.001, 1.8, 0.9, "soft")
    d = adapt.discriminator_optimizer
    assert (d.beta_1, d.beta_2, d.poly_power, d.schedule_horizon) == (0.9, 0.99, 0.9, 62500)
    for stage in (config.source, adapt, distill):
        assert stage.optimizer.head_lr_multiplier == 10.0
    assert adapt.target_images.color_jitter == [0.0, 0.0, 0.0, 0.0]
    assert adapt.target_images.flip == 0.0
    for stream in (config.source.source_images, adapt.source_images, adapt.target_images):
        assert stream.crop == [] and stream.scale_range == [1.0, 1.0]
    assert config.source.source_images.class_balanced and adapt.source_images.class_balanced
    assert config.source.source_images.class_balanced_draws == 31250 * 8
    assert adapt.source_images.class_balanced_draws == 62500 * 8
    assert distill.target_images.resize == []   # RandomScale of the full-resolution image
    assert config.run.stages == ["source", "adapt", "distill"]
    assert (distill.scales, distill.flip, distill.confidence_threshold) == ([1.0], False, 0.0)
    assert eval_size(config, "adapt") == hw(DEFAULTS["INPUT_SIZE_TEST"])
    assert distill.student_init == "model"


def test_plan_prints_each_stage_of_the_original_recipe():
    runner = CliRunner()
    result = runner.invoke(cli, ["train", "--config", str(CONFIGS / "gta5_to_cityscapes_r101.yaml"),
                                 "--plan", "--json"])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    source, adapt, distill = plan["stages"]
    assert source["optimizer"]["learning_rate"] == 5e-4
    assert source["optimizer"]["schedule_horizon"] == 31250
    # gta5.py:42: int(max_iters / 3000) + 1 sub-epochs, max_iters = 31,250 x 8
    assert source["images"]["source"]["sampler"] == ("class-balanced list for max_iters 250000: "
                                                     "84 sub-epochs of 3000 draws, shuffled")
    assert adapt["discriminator_optimizer"]["learning_rate"] == 1e-4
    assert adapt["images"]["source"]["color_jitter"] == {"brightness": 0.5, "contrast": 0.5,
                                                         "saturation": 0.5, "hue": 0.2}
    assert adapt["images"]["target"]["color_jitter"] is None
    assert distill["batch_norm"].startswith("trainable")
    assert distill["eval_size"] == [1024, 2048]
    assert distill["init"]["student"]["weights"].endswith("resnet101-5d3b4d8f.pth")
    assert distill["init"]["student"]["exact"] is True
    vgg = json.loads(runner.invoke(cli, ["train", "--config", str(CONFIGS / "gta5_to_cityscapes_vgg16.yaml"),
                                         "--plan", "--json"]).output)
    for stage in vgg["stages"]:
        assert stage["normalization"] == {"input": "BGR, 0..255", "mean": [103.939, 116.779, 123.68],
                                          "std": [1.0, 1.0, 1.0]}
        assert stage["batch_norm"] == "none (VGG-16)"


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_plan_describes_every_stage_of_every_shipped_config(path):
    config = load_config(path)
    result = CliRunner().invoke(cli, ["train", "--config", str(path), "--plan"])
    assert result.exit_code == 0, result.output
    for stage in config.run.stages:
        assert f"[{stage}]" in result.output
    assert "evaluation     images resized to" in result.output
