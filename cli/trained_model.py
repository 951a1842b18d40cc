"""Which trained segmentor a command works on: ``--run RUN`` or ``--config FILE --checkpoint WEIGHTS``.

Shared by ``eval`` and ``export``: a run directory gives its resolved config and its latest
checkpoint; otherwise a config file and a weights file are named explicitly. ``--set``
overrides apply to the config either way.
"""

from __future__ import annotations

import click

from fada_tf.errors import FadaError


def trained_model_options(command):
    """Add ``--run``, ``--config`` and ``--checkpoint`` to a click command."""
    options = [
        click.option("--run", "run_path", type=click.Path(file_okay=False), default=None,
                     help="Run directory: its config and latest checkpoint."),
        click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
                     help="Config file (with --checkpoint, instead of --run)."),
        click.option("--checkpoint", type=click.Path(dir_okay=False), default=None,
                     help="Segmentor weights (.weights.h5), with --config."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def resolve_trained_model(run_path, config_path, checkpoint, overrides, action: str):
    """``(config, checkpoint path)``; ``action`` ("evaluate", "export") words the error."""
    from fada_tf.config import load_config
    from fada_tf.training.run_dir import RunDir

    if run_path and (config_path or checkpoint):
        raise FadaError("give either --run or --config with --checkpoint, not both")
    if run_path:
        run = RunDir.open(run_path)
        return load_config(run.config_path, overrides), str(run.latest_checkpoint())
    if config_path and checkpoint:
        return load_config(config_path, overrides), checkpoint
    raise FadaError(f"say what to {action}: --run RUN, or --config FILE --checkpoint WEIGHTS")


def load_trained_segmentor(config, checkpoint):
    """Build the configured segmentor and load ``checkpoint`` (a mismatch is a FadaError)."""
    from fada_tf.data.classes import class_table
    from fada_tf.models import build_segmentor
    from fada_tf.training.stages import load_segmentor_weights

    segmentor = build_segmentor(config.model, class_table(config.data.classes).num_classes,
                                seed=config.run.seed)
    load_segmentor_weights(segmentor, checkpoint)
    return segmentor
