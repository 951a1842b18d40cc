"""Options and output conventions shared by the ``fada-tf`` commands.

Commands print tables for people (or one JSON object with ``--json``) on stdout; everything
else — Keras progress bars, TensorFlow logs — goes to stderr. User errors (``FadaError``)
become one line and exit code 1, without a traceback.
"""

from __future__ import annotations

import contextlib
import json
import sys
from typing import get_args

import click

from fada_tf.config.schema import Precision, Strategy
from fada_tf.errors import FadaError

config_option = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False), default=None,
    help="YAML config file (default: the built-in synthetic setting, configs/synthetic.yaml).")
set_option = click.option(
    "--set", "overrides", multiple=True, metavar="KEY=VALUE",
    help="Override a config value, e.g. --set adapt.lambda_adv=0.01 (repeatable).")
json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON object on stdout; logs go to stderr.")


def runtime_options(command):
    """``--strategy``, ``--precision``, ``--jit/--no-jit``, ``--recompute/--no-recompute``:
    overrides of run.strategy/precision/jit/recompute."""
    command = click.option("--recompute/--no-recompute", default=None,
                           help="Recompute the backbone's residual blocks in the backward pass "
                                "instead of keeping their activations: less memory, ~1 more "
                                "backbone forward pass (run.recompute).")(command)
    command = click.option("--jit/--no-jit", default=None,
                           help="XLA-compile the training step (run.jit).")(command)
    command = click.option("--precision", type=click.Choice(get_args(Precision)),
                           default=None, help="Dtype policy (run.precision; default float32).")(command)
    return click.option("--strategy", type=click.Choice(get_args(Strategy)),
                        default=None, help="tf.distribute strategy (run.strategy; default auto: all "
                        "local GPUs, or the TF_CONFIG cluster).")(command)


def runtime_overrides(strategy, precision, jit, recompute) -> list[str]:
    """``--set`` overrides for the ``runtime_options`` given on the command line."""
    given = {"run.strategy": strategy, "run.precision": precision,
             "run.jit": None if jit is None else str(jit).lower(),
             "run.recompute": None if recompute is None else str(recompute).lower()}
    return [f"{key}={value}" for key, value in given.items() if value is not None]


def model_options(command):
    """``--run RUN`` or ``--config FILE --checkpoint WEIGHTS``: which trained segmentor to use."""
    command = click.option("--checkpoint", type=click.Path(dir_okay=False), default=None,
                           help="Segmentor weights (.weights.h5), with --config.")(command)
    command = click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
                           help="Config file (with --checkpoint, instead of --run).")(command)
    return click.option("--run", "run_path", type=click.Path(file_okay=False), default=None,
                        help="Run directory: its config and latest checkpoint.")(command)


def resolve_model(run_path, config_path, checkpoint, overrides):
    """The (config, checkpoint path) named by ``model_options``; user errors are FadaError."""
    from fada_tf.config import load_config
    from fada_tf.training.run_dir import RunDir

    if run_path and (config_path or checkpoint):
        raise FadaError("give either --run or --config with --checkpoint, not both")
    if run_path:
        run = RunDir.open(run_path)
        return load_config(run.config_path, overrides), str(run.latest_checkpoint())
    if config_path and checkpoint:
        return load_config(config_path, overrides), checkpoint
    raise FadaError("say which model: --run RUN, or --config FILE --checkpoint WEIGHTS")


# Optional modules and the extra of setup.cfg that installs each.
EXTRAS = {"onnx": "export", "tf2onnx": "export", "onnxruntime": "export", "torch": "torch",
          "matplotlib": "plot"}


def missing_extra(err: ModuleNotFoundError, command: str) -> FadaError | None:
    """A one-line FadaError naming the extra that installs the missing module, if it is optional."""
    module = (err.name or "").split(".")[0]
    extra = EXTRAS.get(module)
    if extra is None:
        return None
    gpu = " (or export-gpu for ONNX Runtime on CUDA)" if extra == "export" else ""
    return FadaError(f"`{command}` needs the optional `{extra}` extra{gpu}, which provides {module}: "
                     f"pip install 'fada-tf[{extra}]' (in a clone: pip install -e '.[{extra}]')")


class FadaGroup(click.Group):
    """A click group that turns user errors into one-line messages."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except FadaError as err:
            raise _one_line_failure(err) from None
        except ModuleNotFoundError as err:
            needed = missing_extra(err, f"{ctx.command_path} {ctx.invoked_subcommand or ''}".strip())
            if needed is None:   # not an optional extra: a broken installation, keep the traceback
                raise
            raise _one_line_failure(needed) from None
        except KeyboardInterrupt:   # Ctrl-C outside a training loop (which saves and stops itself)
            failure = click.ClickException("interrupted")
            failure.exit_code = 130
            raise failure from None


def _one_line_failure(err: FadaError) -> click.ClickException:
    failure = click.ClickException(str(err))
    failure.exit_code = getattr(err, "exit_code", failure.exit_code)
    return failure


@contextlib.contextmanager
def work_on_stderr():
    """Send everything printed while working (Keras progress bars included) to stderr."""
    with contextlib.redirect_stdout(sys.stderr):
        yield


def emit(result: dict, as_json: bool, text: str) -> None:
    """Print the command's result: JSON, or the human-readable ``text``."""
    click.echo(json.dumps(result) if as_json else text)
