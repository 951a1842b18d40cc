"""Restoring a trained segmentor from a weights file, with errors a user can act on."""

from __future__ import annotations

import re
import warnings

from fada_tf.config import Config
from fada_tf.config.recipe import checkpoint_stage, stage_model
from fada_tf.data.classes import class_table
from fada_tf.errors import FadaError
from fada_tf.models import build_segmentor


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
    except ValueError as err:
        raise FadaError(f"checkpoint {path} does not match the configured model: "
                        f"{_one_line(err)}") from None


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
    """The segmentor described by ``config`` with the weights of ``checkpoint``: the network of
    the stage that wrote it (``STAGE-STEP.weights.h5``; else the run's final stage), built
    without reading an ImageNet initialisation first."""
    stage = checkpoint_stage(checkpoint, config)
    segmentor = build_segmentor(stage_model(config, stage, pretrained=False),
                                class_table(config.data.classes).num_classes, seed=config.run.seed)
    load_segmentor_weights(segmentor, checkpoint)
    return segmentor
