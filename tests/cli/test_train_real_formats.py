"""Tiny raw releases go through prepare → check → the pipeline → a few training steps, with the
paper's experiment configs shrunk to the tiny backbone (end to end, one per experiment kind)."""

import json

import pytest

from fada_tf.config import load_config
from fada_tf.data.prepare import PrepareOptions, prepare
from fada_tf.training.run import run_training
from fada_tf.training.run_dir import RunDir
from tests.support.cli_invoke import invoke
from tests.support.raw_fixtures import write_cityscapes, write_crosscity, write_gta5, write_synthia

TINY = ["model.backbone=tiny", "model.tiny_width=4", "model.freeze_bn=false", "model.pretrained=none",
        "model.discriminator_channels=[8,8]", "source.steps=2", "adapt.steps=2", "source.batch_size=2",
        "adapt.batch_size=2", "run.log_every=1", "run.checkpoint_every=100", "data.eval_size=[24,32]",
        "data.eval_batch_size=2", "distill.steps=2", "distill.batch_size=2", "distill.eval_size=[24,32]",
        "distill.freeze_bn=false", *[f"{stream}={{resize: [24, 32], crop: [16, 24]}}" for stream in (
            "source.source_images", "adapt.source_images", "adapt.target_images")],
        "distill.target_images={resize: [], scale_range: [0.5, 1.5], crop: [16, 24]}"]


@pytest.mark.slow
def test_gta5_to_cityscapes_through_the_command_line(tmp_path, repo):
    write_gta5(tmp_path / "GTA5", count=6)
    write_cityscapes(tmp_path / "cityscapes")
    prepared = {}
    for dataset, raw in (("gta5", "GTA5"), ("cityscapes", "cityscapes")):
        prepared[dataset] = tmp_path / "prepared" / dataset
        report = json.loads(invoke("data", "prepare", "--dataset", dataset, "--root", str(tmp_path / raw),
                                   "--out", str(prepared[dataset]), "--json").stdout)
        assert report["classes"] == "cityscapes19"
        checked = json.loads(invoke("data", "check", str(prepared[dataset]), "--json").stdout)
        assert checked["problems"] == [] and checked["num_images"] == (6 if dataset == "gta5" else 7)
    overrides = [f"data.source.root={prepared['gta5']}", f"data.target.root={prepared['cityscapes']}", *TINY]
    result = json.loads(invoke("train", "--config", str(repo / "configs" / "gta5_to_cityscapes_r101.yaml"),
                               "--output", str(tmp_path / "run"), "--json",
                               *[arg for o in overrides for arg in ("--set", o)]).stdout)
    assert load_config(tmp_path / "run" / "config.yaml").adapt.source_images.class_balanced
    for stage in ("source", "adapt", "distill"):
        assert result["stages"][stage]["num_images"] == 3
        assert len(result["stages"][stage]["per_class_iou"]) == 19
        assert 0.0 <= result["stages"][stage]["miou"] <= 1.0


@pytest.mark.slow
@pytest.mark.parametrize("experiment", ["synthia_to_cityscapes", "cityscapes_to_crosscity"])
def test_synthia_and_crosscity_experiments_train_and_evaluate(tmp_path, repo, experiment):
    if experiment == "synthia_to_cityscapes":
        write_synthia(tmp_path / "raw_source", count=4)
        write_cityscapes(tmp_path / "raw_target")
        datasets, config, classes, val = ("synthia", "cityscapes"), "synthia_to_cityscapes_r101.yaml", 16, 3
    else:
        write_cityscapes(tmp_path / "raw_source")
        write_crosscity(tmp_path / "raw_target")
        datasets, config, classes, val = ("cityscapes", "crosscity"), "cityscapes_to_crosscity_r101.yaml", 13, 3
    for dataset, side in zip(datasets, ("source", "target")):
        prepare(PrepareOptions(dataset, str(tmp_path / f"raw_{side}")), str(tmp_path / side))
    cfg = load_config(repo / "configs" / config, [f"data.source.root={tmp_path / 'source'}",
                                                  f"data.target.root={tmp_path / 'target'}", *TINY])
    metrics = run_training(cfg, RunDir.create(tmp_path / "run", cfg), verbose=0)
    # Cross-City's training split has no labels: self-distillation still labels it, and there
    # is nothing to compare the pseudo labels with.
    assert (metrics["pseudo_labels"]["quality"] is None) == (experiment == "cityscapes_to_crosscity")
    assert metrics["pseudo_labels"]["num_images"] == len(list((tmp_path / "run" / "pseudo_labels").glob("*.png")))
    for stage in ("source", "adapt", "distill"):
        result = metrics["stages"][stage]
        assert result["num_images"] == val and len(result["per_class_iou"]) == classes
        assert ("miou_13" in result) == (classes == 16)
