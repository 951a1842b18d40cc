"""Restoring a trained segmentor from a weights file, with errors a user can act on."""

from __future__ import annotations

import dataclasses
import re
import warnings

from fada_tf.config import Config
from fada_tf.config.recipe import checkpoint_stage, stage_model
from fada_tf.data.classes import class_table
from fada_tf.errors import FadaError
from fada_tf.models import build_segmentor


class CheckpointMismatch(FadaError):
    """A weights file whose layers or shapes are not the network's."""


def load_segmentor_weights(segmentor, path: str) -> None:
    """Load ``path`` into ``segmentor``; a missing file or another architecture is a one-line
    FadaError."""
    try:
        with warnings.catch_warnings():
            # Keras warns about every layer it cannot match before it raises; the error suffices.
            warnings.simplefilter("ignore")
            segmentor.load_weights(path)
    except FileNotFoundError:
        raise FadaError(f"checkpoint not found: {path}") from None
    except OSError as err:   # h5py: not an HDF5 file, truncated, unreadable
        raise FadaError(f"checkpoint {path} is not a readable Keras weights file "
                        f"({' '.join(str(err).split())}); `fada-tf train` writes them, `fada-tf "
                        "convert torch` turns the original's .pth into one") from None
    except ValueError as err:
        raise CheckpointMismatch(f"checkpoint {path} does not match the configured model "
                        f"({_one_line(err)}); was it written for another model.backbone or "
                        "data.classes, or by an earlier fada-tf version?") from None


def _one_line(err: ValueError) -> str:
    """Keras' first sentence, plus the first mismatching layer and shapes when it names them."""
    text = str(err).strip()
    summary = text.splitlines()[0].split(" Example error message")[0].rstrip(".:")
    layer = re.search(r"for object <\w+ name=([^,>]+)", text)
    shapes = re.search(r"variable\.shape=(\([^)]*\)), Received: value\.shape=(\([^)]*\))", text)
    if layer and shapes:
        summary += f" (first: {layer[1]}, model {shapes[1]}, checkpoint {shapes[2]})"
    return summary


def restore_segmentor(config: Config, checkpoint: str):
    """The segmentor described by ``config`` with the weights of ``checkpoint``, built without
    reading an ImageNet initialisation first.

    Its BatchNorm kind is the one of the stage that wrote the file (``STAGE-STEP.weights.h5``;
    the run's final stage for another name, e.g. a converted checkpoint): frozen, or trainable
    for a self-distilled student (``distill.freeze_bn``). A file of the other kind — a
    distilled teacher, a renamed file — is loaded into a network of that kind.
    """
    model = stage_model(config, checkpoint_stage(checkpoint), pretrained=False)
    num_classes = class_table(config.data.classes).num_classes
    segmentor = build_segmentor(model, num_classes, seed=config.run.seed)
    try:
        load_segmentor_weights(segmentor, checkpoint)
    except CheckpointMismatch as error:
        if model.backbone == "vgg16":  # no BatchNorm: nothing else to try
            raise
        segmentor = build_segmentor(dataclasses.replace(model, freeze_bn=not model.freeze_bn),
                                    num_classes, seed=config.run.seed)
        try:
            load_segmentor_weights(segmentor, checkpoint)
        except CheckpointMismatch:
            raise error from None
    return segmentor
