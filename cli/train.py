"""``fada-tf train``: source-only stage, then FADA adaptation, evaluated on the target."""

from __future__ import annotations

import time

import click

from fada_tf.cli.common import (config_option, emit, json_option, runtime_options, runtime_overrides,
                                set_option, work_on_stderr)
from fada_tf.errors import FadaError
from fada_tf.progress import default_verbosity

STAGE_TITLES = {"source": "source-only", "adapt": "FADA", "distill": "self-distilled"}


@click.command()
@config_option
@set_option
@click.option("--output", type=click.Path(file_okay=False), default=None,
              help="Run directory to create (default: runs/<date-time>).")
@click.option("--resume", "resume_path", type=click.Path(file_okay=False), default=None,
              help="Continue the interrupted run in this directory from its newest checkpoint.")
@click.option("--plan", is_flag=True,
              help="Print what every stage will do (initialisation, schedule, augmentation, "
                   "sampler, evaluation size) and exit without training.")
@runtime_options
@json_option
def train(config_path, overrides, output, resume_path, plan, strategy, precision, jit, recompute,
          as_json):
    """Train on the labelled source domain, then adapt to the target domain with FADA.

    Runs the stages in run.stages (source, adapt), evaluates target-domain mIoU after each
    when the target has a labelled validation split, and writes the run directory:
    config.yaml, checkpoints/ (segmentor weights, and training state for --resume), logs/
    (TensorBoard) and metrics.json. SIGTERM or Ctrl-C saves a checkpoint and stops (exit
    code 143 / 130); `--resume RUN` continues exactly where it stopped.

    \b
    Examples:
        fada-tf train --output runs/demo
        fada-tf train --set adapt.encoding=hard --set run.seed=1 --output runs/hard
        fada-tf train --config configs/gta5_to_cityscapes_r101.yaml --strategy mirrored --json
        fada-tf train --resume runs/demo
        fada-tf train --config configs/gta5_to_cityscapes_r101.yaml --plan
    """
    from fada_tf.config import load_config

    runtime = runtime_overrides(strategy, precision, jit, recompute)
    if plan:
        if resume_path:
            raise FadaError("--plan shows a config's recipe: give --config, not --resume")
        _print_plan(config_path, load_config(config_path, list(overrides) + runtime), as_json)
        return
    if resume_path:
        if config_path or overrides or output:
            raise FadaError("--resume continues a run with its own config.yaml: drop --config, "
                            "--set and --output (--strategy, --jit and --recompute may change)")
        config = _resumed_config(resume_path, runtime)
    else:
        config = load_config(config_path, list(overrides) + runtime)
    with work_on_stderr():
        from fada_tf.training.distribution import make_strategy, worker_path

        distribution = make_strategy(config.run.strategy)   # before any other TensorFlow work
        from fada_tf.data.datasets import check_data
        from fada_tf.training.run import run_training
        from fada_tf.training.run_dir import RunDir

        check_data(config)
        if resume_path:
            run = RunDir.open(worker_path(distribution, resume_path))
        else:
            run = RunDir.create(worker_path(distribution, output or time.strftime("runs/%Y%m%d-%H%M%S")),
                                config)
        metrics = run_training(config, run, distribution, verbose=default_verbosity(),
                               resume=bool(resume_path))
    result = {"run_dir": str(run.path), "replicas": distribution.num_replicas_in_sync,
              "stages": metrics["stages"]}
    emit(result, as_json, _report(result))


def _print_plan(config_path, config, as_json: bool) -> None:
    from fada_tf.config.plan import describe_plan, training_plan

    plan = training_plan(config)
    emit(plan, as_json, describe_plan(plan, config_path or "the built-in synthetic config"))


def _resumed_config(resume_path: str, runtime: list[str]):
    """The run's own config, with --strategy / --jit / --recompute applied; the precision
    cannot change."""
    from fada_tf.config import load_config
    from fada_tf.training.run_dir import RunDir

    stored = RunDir.open(resume_path).config_path
    config = load_config(stored, runtime)
    original = load_config(stored).run.precision
    if config.run.precision != original:
        raise FadaError(f"{resume_path} was trained with run.precision = {original}; "
                        "--resume cannot change it (the optimiser states differ)")
    return config


def _report(result: dict) -> str:
    from fada_tf.evaluation.report import iou_table

    columns = {STAGE_TITLES[s]: r for s, r in result["stages"].items()}
    table = iou_table(columns) if columns else "(the target domain has no labelled split: nothing evaluated)"
    return f"Target-domain IoU (%), run {result['run_dir']}:\n{table}"
