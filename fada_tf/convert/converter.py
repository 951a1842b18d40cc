"""``convert_torch_checkpoint``: a PyTorch checkpoint in, a fada-tf run directory out.

Two kinds of checkpoint:

* the original FADA's (``g2c_sd.pth`` and the like): the segmentor's backbone and ASPP head
  and, when the file has ``model_D``, the fine-grained discriminator. The run's checkpoint
  is ``checkpoints/converted-000000.weights.h5`` (``latest.json`` names it, so ``eval``,
  ``export``... ``--run RUN`` use it); the discriminator goes to ``discriminator.weights.h5``
  beside ``config.yaml`` (loadable into ``adaptation_discriminator`` of the run's config).
* an ImageNet ResNet / VGG-16 (``imagenet=True``; torchvision's ResNets or the Caffe VGG-16
  the original starts from, see ``fada_tf.models.pretrained``): the backbone only; fc6/fc7 and
  the ASPP head keep ``build_segmentor``'s initialisation, which is the paper's (see
  ``fada_tf.models.vgg`` and ``aspp``). The checkpoint is
  ``checkpoints/imagenet-000000.weights.h5`` and the run's config names its absolute path as
  ``model.pretrained``: every network built afresh from that config (the source stage's, a
  ``distill.student_init: model`` student's) starts from exactly the paper's initialisation,
  e.g. ``fada-tf train --config RUN/config.yaml``, and no PyTorch is needed any more.

The segmentor is the network of the config's final stage (``run.stages``; the one ``eval
--run`` restores): with the paper configs as they are a self-distilled student (trainable
BatchNorm, as the original's ``*_sd.pth``); ``--set run.stages=[source,adapt]`` for an adapted
model (frozen BatchNorm). A FADA checkpoint's run has ``model.pretrained: none``: its weights
come from the checkpoint, so nothing is read or downloaded when the run is loaded (``eval``,
``export``... never read ``model.pretrained`` for a restored network either). Everything is
checked before the run directory is written, and a failure while writing removes what was
written.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

from fada_tf.config import Config, dump_config
from fada_tf.config.recipe import stage_model
from fada_tf.convert.torch_file import (DISCRIMINATOR_SECTION, IMAGENET_CLASSIFIER,
                                        read_fada_checkpoint, read_imagenet_checkpoint)
from fada_tf.convert.torch_names import discriminator_keys, segmentor_keys
from fada_tf.convert.transfer import transfer
from fada_tf.data.classes import class_table
from fada_tf.errors import FadaError
from fada_tf.models import build_segmentor
from fada_tf.training.run_dir import RunDir
from fada_tf.training.stages.adapt import adaptation_discriminator

BACKBONES = ("resnet101", "resnet50", "vgg16")
STAGE = {False: "converted", True: "imagenet"}


def convert_torch_checkpoint(checkpoint: str, config: Config, out: str,
                             imagenet: bool = False) -> dict:
    """Convert ``checkpoint`` for the model of ``config`` into the new run directory ``out``.

    Returns ``{"run_dir", "checkpoint", "discriminator", "tensors", "ignored_keys",
    "ignored_entries"}``: the written files (``discriminator`` None without ``model_D``), the
    number of tensors placed, the keys ignored on purpose and the top-level entries that are
    not weights (``iteration``, ``optimizer_*``). Raises FadaError on any mismatch.
    """
    backbone = config.model.backbone
    if backbone not in BACKBONES:
        raise FadaError(f"model.backbone={backbone} has no PyTorch counterpart; the converter "
                        f"reads {', '.join(BACKBONES)} checkpoints")
    if imagenet:
        tensors, ignored_entries = read_imagenet_checkpoint(checkpoint), []
    else:
        tensors, ignored_entries = read_fada_checkpoint(checkpoint)
    config = dataclasses.replace(config, model=dataclasses.replace(config.model, pretrained="none"))
    num_classes = class_table(config.data.classes).num_classes
    # The network that restore_segmentor builds for the run's final stage (distill: trainable BN).
    segmentor = build_segmentor(stage_model(config), num_classes, seed=config.run.seed)
    keys = segmentor_keys(segmentor, backbone, imagenet)
    discriminator = None
    if any(key.startswith(f"{DISCRIMINATOR_SECTION}:") for key in tensors):
        discriminator = adaptation_discriminator(config, num_classes)
        keys.update(discriminator_keys(discriminator))
    ignored_keys = transfer(
        keys, tensors, checkpoint, backbone=backbone,
        target=f"model.backbone={backbone} with {num_classes} classes ({config.data.classes})",
        ignored_prefixes=IMAGENET_CLASSIFIER[backbone] if imagenet else ())
    written = _write_run(out, config, segmentor, discriminator, imagenet)
    return {**written, "tensors": len(keys), "ignored_keys": ignored_keys,
            "ignored_entries": ignored_entries}


def _write_run(out: str, config: Config, segmentor, discriminator, imagenet: bool) -> dict:
    """Create the run directory with the weights; on failure remove what was written."""
    existed = Path(out).exists()
    run = RunDir.create(out, config)
    try:
        path = run.save_segmentor(segmentor, STAGE[imagenet], 0)
        if imagenet:  # every fresh network of this run starts from the converted backbone
            model = dataclasses.replace(config.model, pretrained=str(path.resolve()))
            dump_config(dataclasses.replace(config, model=model), run.config_path)
        discriminator_path = run.save_discriminator(discriminator) if discriminator else None
    except BaseException:
        shutil.rmtree(run.path)
        if existed:  # RunDir.create accepts an existing empty directory: leave it empty
            run.path.mkdir()
        raise
    return {"run_dir": str(run.path), "checkpoint": str(path),
            "discriminator": discriminator_path and str(discriminator_path)}
