"""What a config's stages mean, derived from the config alone (no TensorFlow).

Shared by training, evaluation, export and ``fada-tf train --plan`` so that every command
reads a run's recipe the same way.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from fada_tf.config.schema import Config, ModelConfig
from fada_tf.errors import FadaError

# Where the original's ImageNet initialisations are downloaded from (model.pretrained).
IMAGENET_URLS = {
    "resnet101": "https://download.pytorch.org/models/resnet101-5d3b4d8f.pth",
    "resnet50": "https://download.pytorch.org/models/resnet50-19c8e357.pth",
    "vgg16": "https://web.eecs.umich.edu/~justincj/models/vgg16-00b39a1b.pth",
}


def final_stage(config: Config) -> str:
    """The stage whose model a finished run ends with (the last of ``run.stages``)."""
    return config.run.stages[-1]


def eval_size(config: Config, stage: str | None = None) -> list[int]:
    """(height, width) images are resized to for evaluating the model of ``stage`` (default:
    the run's final stage): ``distill.eval_size`` for a distilled student when set (the
    original evaluates it at 2048×1024), else ``data.eval_size``."""
    stage = stage or final_stage(config)
    if stage == "distill" and config.distill.eval_size:
        return list(config.distill.eval_size)
    return list(config.data.eval_size)


def schedule_horizon(stage_cfg) -> int:
    """Steps over which a stage's poly schedule decays (``optimizer.schedule_horizon``, 0 =
    the stage's steps)."""
    return stage_cfg.optimizer.schedule_horizon or stage_cfg.steps


def stage_model(config: Config, stage: str | None = None, pretrained: bool = True) -> ModelConfig:
    """The model config of ``stage``'s network (default: the run's final stage): a distilled
    student has ``distill.freeze_bn``; with ``pretrained=False`` no initialisation is read
    (for networks whose weights a checkpoint replaces)."""
    stage = stage or final_stage(config)
    model = config.model
    if stage == "distill":
        model = dataclasses.replace(model, freeze_bn=config.distill.freeze_bn)
    return model if pretrained else dataclasses.replace(model, pretrained="none")


def checkpoint_stage(path, config: Config) -> str | None:
    """The stage whose network a weights file ``STAGE-STEP.weights.h5`` (as runs write them)
    holds, when its name says one of the config's stages; None otherwise (the final stage's)."""
    stage = Path(path).name.split("-")[0]
    return stage if stage in config.run.stages else None


def pretrained_kind(value: str) -> str:
    """What ``model.pretrained = value`` names (``fada_tf.models.pretrained`` loads it):
    ``"none"``, ``"keras"`` (imagenet or a keras.applications .h5), ``"torch"`` (the
    original's .pth/.pt) or ``"segmentor"`` (a fada-tf .weights.h5); FadaError otherwise."""
    lower = value.lower()
    if value == "none":
        return "none"
    if value == "imagenet":
        return "keras"
    if lower.endswith((".pth", ".pt")):
        return "torch"
    if lower.endswith(".weights.h5"):
        return "segmentor"
    if lower.endswith(".h5"):
        return "keras"
    raise FadaError(f"model.pretrained={value}: expected none, imagenet, the original's ImageNet "
                    "checkpoint (.pth/.pt), a fada-tf segmentor weights file (.weights.h5) or a "
                    "keras.applications *_notop.h5 file")
