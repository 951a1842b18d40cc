"""Options and output conventions shared by the ``fada-tf`` commands.

Commands print tables for people (or one JSON object with ``--json``) on stdout; everything
else — Keras progress bars, TensorFlow logs — goes to stderr. User errors (``FadaError``)
become one line and exit code 1, without a traceback.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys

import click

from fada_tf.errors import FadaError

config_option = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False), default=None,
    help="YAML config file (default: the built-in synthetic setting, configs/synthetic.yaml).")
set_option = click.option(
    "--set", "overrides", multiple=True, metavar="KEY=VALUE",
    help="Override a config value, e.g. --set adapt.lambda_adv=0.01 (repeatable).")
json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON object on stdout; logs go to stderr.")


class FadaGroup(click.Group):
    """A click group that turns user errors into one-line messages."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except FadaError as err:
            raise click.ClickException(str(err)) from None


@contextlib.contextmanager
def work_on_stderr():
    """Send everything printed while working (Keras progress bars included) to stderr."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with contextlib.redirect_stdout(sys.stderr):
        yield


def emit(result: dict, as_json: bool, text: str) -> None:
    """Print the command's result: JSON, or the human-readable ``text``."""
    click.echo(json.dumps(result) if as_json else text)
