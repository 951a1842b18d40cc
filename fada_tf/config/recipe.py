"""What a config's stages mean, derived from the config alone (no TensorFlow).

Shared by training, evaluation, export and ``fada-tf train --plan`` so that every command
reads a run's recipe the same way.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from fada_tf.config.schema import Config, ImageStream, ModelConfig
from fada_tf.errors import FadaError

STAGES = ("source", "adapt", "distill")
# The domains each stage reads, through its ``<domain>_images`` stream.
STAGE_DOMAINS = {"source": ("source",), "adapt": ("source", "target"), "distill": ("target",)}

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


def stage_streams(config: Config, stage: str) -> dict[str, ImageStream]:
    """The image streams of ``stage`` by domain (``{"source": adapt.source_images, ...}``)."""
    stage_cfg = getattr(config, stage)
    return {domain: getattr(stage_cfg, f"{domain}_images") for domain in STAGE_DOMAINS[stage]}


def class_balanced_draws(config: Config, stage: str) -> int:
    """The original's ``max_iters`` of a stage's class-balanced list (core/datasets/build.py:47:
    MAX_ITER × BATCH_SIZE, BATCH_SIZE counting both domains of an adaptation step):
    ``source_images.class_balanced_draws``, else the schedule horizon times that batch."""
    stage_cfg = getattr(config, stage)
    images_per_step = stage_cfg.batch_size * len(STAGE_DOMAINS[stage])
    return (stage_cfg.source_images.class_balanced_draws
            or schedule_horizon(stage_cfg) * images_per_step)


def stage_model(config: Config, stage: str | None = None, pretrained: bool = True) -> ModelConfig:
    """The model config of ``stage``'s network (default: the run's final stage): a distilled
    student has ``distill.freeze_bn``; with ``pretrained=False`` no initialisation is read
    (for networks whose weights a checkpoint replaces)."""
    stage = stage or final_stage(config)
    model = config.model
    if stage == "distill":
        model = dataclasses.replace(model, freeze_bn=config.distill.freeze_bn)
    return model if pretrained else dataclasses.replace(model, pretrained="none")


def checkpoint_stage(path) -> str | None:
    """The stage that wrote a weights file ``STAGE-STEP.weights.h5`` (as runs name them), or
    None for another name (``converted-…``, a renamed file)."""
    stage = Path(path).name.split("-")[0]
    return stage if stage in STAGES else None


def checkpoint_eval_size(config: Config, path) -> list[int]:
    """The evaluation size of the network in a weights file: its stage's (``eval_size``),
    the run's final stage's when the name does not say."""
    return eval_size(config, checkpoint_stage(path))


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
