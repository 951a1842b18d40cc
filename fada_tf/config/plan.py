"""``fada-tf train --plan``: what every stage of a config will do, before anything runs.

A run of the paper's recipe costs GPU-days; the plan lets a user check it first: per stage the
initialisation (which file, whether it is the original's exact one, whether it is there), the
steps, batch, learning rates, schedule horizon, weight decay, BatchNorm mode, input
normalisation, how each domain's images are drawn and augmented, and the evaluation size.
Derived from the config alone; nothing is built or read.
"""

from __future__ import annotations

import os

from fada_tf.config.recipe import (IMAGENET_URLS, class_balanced_draws, eval_size,
                                   pretrained_kind, schedule_horizon, stage_model, stage_streams)
from fada_tf.config.schema import SUB_EPOCH_DRAWS, Config, ImageStream

TITLES = {"source": "source-only (eq. 3)", "adapt": "FADA adaptation (eq. 2, 5, 6)",
          "distill": "self-distillation"}
JITTER_NAMES = ("brightness", "contrast", "saturation", "hue")


KINDS = {"none": "random (seeded)",
         "torch": "the original's ImageNet checkpoint, through the converter",
         "segmentor": "the backbone of fada-tf weights (e.g. a converted ImageNet checkpoint)",
         "keras": "keras.applications ImageNet weights, input convention folded into the first conv"}


def initialisation(pretrained: str, backbone: str) -> dict:
    """What ``model.pretrained`` loads: ``{"weights", "kind", "exact", "present"}`` (and
    ``"download"`` when the original's file is missing).

    ``exact`` says whether the network starts as the original's did (its torchvision ResNet or
    Caffe VGG-16, directly or converted); keras.applications weights are a substitute
    (``fada_tf.models.imagenet``).
    """
    kind = pretrained_kind(pretrained)
    present = pretrained in ("none", "imagenet") or os.path.isfile(pretrained)
    plan = {"weights": pretrained, "kind": KINDS[kind],
            "exact": kind in ("torch", "segmentor") or (kind == "none" and backbone == "tiny"),
            "present": present}
    if not present and backbone in IMAGENET_URLS:
        plan["download"] = IMAGENET_URLS[backbone]
    return plan


def training_plan(config: Config) -> dict:
    """``{"stages": [one dict per stage of run.stages]}`` (see ``describe_plan``)."""
    return {"stages": [_stage_plan(config, stage) for stage in config.run.stages]}


def _stage_plan(config: Config, stage: str) -> dict:
    stage_cfg = getattr(config, stage)
    model = stage_model(config, stage)
    plan = {"stage": stage, "title": TITLES[stage], "init": _stage_init(config, stage),
            "steps": stage_cfg.steps, "batch_size": stage_cfg.batch_size,
            "optimizer": _sgd(stage_cfg), "batch_norm": _batch_norm(model),
            "normalization": _normalization(config), "eval_size": eval_size(config, stage)}
    if stage == "adapt":
        d = stage_cfg.discriminator_optimizer
        plan["discriminator_optimizer"] = {
            "rule": "torch Adam (eps 1e-8 on sqrt(v_hat))", "learning_rate": d.learning_rate,
            "betas": [d.beta_1, d.beta_2], "poly_power": d.poly_power,
            "schedule_horizon": d.schedule_horizon or stage_cfg.steps}
        plan["loss"] = {"encoding": stage_cfg.encoding, "lambda_adv": stage_cfg.lambda_adv,
                        "temperature": stage_cfg.temperature, "clip": stage_cfg.clip}
    plan["images"] = {domain: _stream(stream, config, stage,
                                      "pseudo labels" if stage == "distill" else
                                      "labels" if domain == "source" else "no labels")
                      for domain, stream in stage_streams(config, stage).items()}
    if stage == "distill":
        d = config.distill
        plan["pseudo_labels"] = {"eval_size": eval_size(config, "adapt"), "scales": d.scales,
                                 "flip": d.flip, "confidence_threshold": d.confidence_threshold}
    return plan


def _stage_init(config: Config, stage: str) -> dict:
    """Where the stage's networks start."""
    model = config.model
    if stage == "source":
        if config.source.init_checkpoint:
            return {"segmentor": _checkpoint(config.source.init_checkpoint)}
        return {"segmentor": initialisation(model.pretrained, model.backbone)}
    if stage == "adapt":
        segmentor = (_checkpoint(config.adapt.init_checkpoint) if config.adapt.init_checkpoint
                     else {"weights": "the source stage's final weights", "exact": True,
                           "present": True})
        return {"segmentor": segmentor, "discriminator": {
            "weights": "random (torch nn.Conv2d default init)", "exact": True, "present": True}}
    teacher = (_checkpoint(config.distill.teacher_checkpoint) if config.distill.teacher_checkpoint
               else {"weights": "the previous stage's final weights", "exact": True, "present": True})
    student = (initialisation(model.pretrained, model.backbone)
               if config.distill.student_init == "model" else
               {"weights": "a copy of the teacher", "exact": True, "present": True})
    return {"teacher": teacher, "student": student}


def _checkpoint(path: str) -> dict:
    return {"weights": path, "kind": "fada-tf weights", "exact": True,
            "present": os.path.isfile(path)}


def _sgd(stage_cfg) -> dict:
    o = stage_cfg.optimizer
    return {"rule": "torch SGD (momentum, L2 weight decay added to the gradient)",
            "learning_rate": o.learning_rate, "head_learning_rate": o.learning_rate * o.head_lr_multiplier,
            "momentum": o.momentum, "weight_decay": o.weight_decay, "poly_power": o.poly_power,
            "schedule_horizon": schedule_horizon(stage_cfg)}


def _batch_norm(model) -> str:
    if model.backbone == "vgg16":
        return "none (VGG-16)"
    if model.freeze_bn:
        return "frozen (no epsilon, as the original's FrozenBatchNorm2d)"
    return "trainable (torch rule: momentum 0.1, unbiased running variance; synchronised across replicas)"


def _normalization(config: Config) -> dict:
    n = config.model.normalization
    space = "BGR, 0..255" if n.to_bgr255 else "RGB / 255"
    return {"input": space, "mean": n.mean, "std": n.std}


def _stream(stream: ImageStream, config: Config, stage: str, labels: str) -> dict:
    """How one domain's images are drawn and augmented in a stage."""
    if stream.class_balanced:
        draws = class_balanced_draws(config, stage)
        sub_epochs = draws // SUB_EPOCH_DRAWS + 1
        sampler = (f"class-balanced list for max_iters {draws}: {sub_epochs} sub-epochs of "
                   f"{SUB_EPOCH_DRAWS} draws, shuffled")
    else:
        sampler = "shuffled every pass"
    jitter = dict(zip(JITTER_NAMES, stream.color_jitter)) if any(stream.color_jitter) else None
    return {"labels": labels, "sampler": sampler,
            "resize": stream.resize or "own size", "scale_range": stream.scale_range,
            "crop": stream.crop or None, "flip": stream.flip, "color_jitter": jitter}


def describe_plan(plan: dict, source: str) -> str:
    """The plan as text for people."""
    lines = [f"Training plan of {source} (sizes are height x width):"]
    for s in plan["stages"]:
        lines += ["", f"[{s['stage']}] {s['title']}: {s['steps']} steps, batch {s['batch_size']}"
                  + (" per domain" if s["stage"] == "adapt" else "")]
        for role, init in s["init"].items():
            lines.append(f"  {role:<14} {_init_text(init)}")
        o = s["optimizer"]
        lines.append(f"  optimizer      {o['rule']}: lr {o['learning_rate']:g} (head "
                     f"{o['head_learning_rate']:g}), momentum {o['momentum']:g}, weight decay "
                     f"{o['weight_decay']:g}, poly {o['poly_power']:g} over {o['schedule_horizon']} steps")
        if "discriminator_optimizer" in s:
            d, loss = s["discriminator_optimizer"], s["loss"]
            lines.append(f"  D optimizer    {d['rule']}: lr {d['learning_rate']:g}, betas "
                         f"{d['betas'][0]:g}/{d['betas'][1]:g}, poly {d['poly_power']:g} over "
                         f"{d['schedule_horizon']} steps")
            lines.append(f"  loss           {loss['encoding']} encoding, lambda_adv {loss['lambda_adv']:g}, "
                         f"T {loss['temperature']:g}, clip {loss['clip']:g}")
        lines.append(f"  BatchNorm      {s['batch_norm']}")
        n = s["normalization"]
        lines.append(f"  input          {n['input']}, mean {n['mean']}, std {n['std']}")
        for domain, stream in s["images"].items():
            lines.append(f"  {domain + ' images':<14} {_stream_text(stream)}")
        if "pseudo_labels" in s:
            p = s["pseudo_labels"]
            lines.append(f"  pseudo labels  teacher's argmax at {_size(p['eval_size'])}, scales "
                         f"{p['scales']}{' + flip' if p['flip'] else ''}, confidence >= "
                         f"{p['confidence_threshold']:g}, full label resolution")
        lines.append(f"  evaluation     images resized to {_size(s['eval_size'])}, labels at full resolution")
    return "\n".join(lines)


def _init_text(init: dict) -> str:
    text = init["weights"] + (f" ({init['kind']})" if "kind" in init else "")
    if not init["present"]:
        text += " -- MISSING" + (f" (download {init['download']})" if "download" in init else "")
    return text + ("" if init["exact"] else " [not the original's exact initialisation]")


def _stream_text(stream: dict) -> str:
    resize = stream["resize"] if stream["resize"] == "own size" else f"resize {_size(stream['resize'])}"
    parts = [stream["labels"], stream["sampler"], resize]
    if stream["scale_range"] != [1.0, 1.0]:
        parts.append("random scale {:g}-{:g}".format(*stream["scale_range"]))
    if stream["crop"]:
        parts.append(f"crop {_size(stream['crop'])}")
    parts.append(f"flip p={stream['flip']:g}" if stream["flip"] else "no flip")
    jitter = stream["color_jitter"]
    parts.append("jitter " + ", ".join(f"{k} {v:g}" for k, v in jitter.items()) if jitter else "no jitter")
    return "; ".join(parts)


def _size(size) -> str:
    return f"{size[0]}x{size[1]}"
