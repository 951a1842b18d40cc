"""``--mst``, ``--scales`` and ``--flip/--no-flip``: how ``eval`` and ``predict`` run the model."""

from __future__ import annotations

import click

from fada_tf.errors import FadaError
from fada_tf.evaluation.scales import MST_SCALES


def scale_options(command):
    """Add the multi-scale testing options to a command."""
    command = click.option(
        "--flip/--no-flip", default=None,
        help="Also average over horizontal flips (default: on with --mst or --scales, else off).")(command)
    command = click.option(
        "--scales", "scales_text", default=None, metavar="S1,S2,...",
        help="Average softmax probabilities over these image scales, e.g. 0.5,0.75,1.0.")(command)
    return click.option(
        "--mst", is_flag=True,
        help=f"Multi-scale testing: scales {','.join(map(str, MST_SCALES))} and their horizontal "
             "flips.")(command)


def resolve_scales(mst: bool, scales_text: str | None, flip: bool | None) -> tuple[list[float], bool]:
    """(scales, flip) from the options; single scale without flip when none is given."""
    if scales_text is not None:
        try:
            scales = [float(s) for s in scales_text.split(",")]
        except ValueError:
            scales = []
        if not scales or min(scales) <= 0:
            raise FadaError(f"--scales must be positive numbers separated by commas, got {scales_text!r}")
    else:
        scales = list(MST_SCALES) if mst else [1.0]
    multi = mst or scales_text is not None
    return scales, multi if flip is None else flip
