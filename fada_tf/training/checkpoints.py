"""Restoring a trained segmentor from a weights file, with errors a user can act on."""

from __future__ import annotations

from fada_tf.config import Config
from fada_tf.data.classes import class_table
from fada_tf.errors import FadaError
from fada_tf.models import build_segmentor


def load_segmentor_weights(segmentor, path: str) -> None:
    """Load ``path`` into ``segmentor``; a missing file or another architecture is a FadaError."""
    try:
        segmentor.load_weights(path)
    except FileNotFoundError:
        raise FadaError(f"checkpoint not found: {path}") from None
    except ValueError as err:
        raise FadaError(f"checkpoint {path} does not match the configured model: {err}") from None


def restore_segmentor(config: Config, checkpoint: str):
    """The segmentor described by ``config`` with the weights of ``checkpoint``."""
    segmentor = build_segmentor(config.model, class_table(config.data.classes).num_classes,
                                seed=config.run.seed)
    load_segmentor_weights(segmentor, checkpoint)
    return segmentor
