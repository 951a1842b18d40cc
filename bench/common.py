"""Running the commands the benchmarks measure: ``fada-tf``, and benchmark workers in fresh processes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Callable, NamedTuple

REPO = Path(__file__).resolve().parents[1]


def thread_env(threads: int) -> dict[str, str]:
    """This process's environment with PyTorch's and TensorFlow's intra-op threads set to
    ``threads`` and TensorFlow's native log quiet."""
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS=str(threads), TF_NUM_INTRAOP_THREADS=str(threads),
               TF_CPP_MIN_LOG_LEVEL="2")
    return env


def fada_tf_command() -> list[str]:
    """The ``fada-tf`` command of this interpreter's environment, else ``python -m fada_tf.cli``
    with this interpreter (never another installation's command)."""
    executable = shutil.which("fada-tf", path=os.path.dirname(sys.executable))
    return [executable] if executable else [sys.executable, "-m", "fada_tf.cli"]


def run(command: list, env: dict | None = None, cwd: Path | None = None,
        keep_stderr: bool = False, log: Path | None = None) -> str:
    """Run ``command`` and return its standard output.

    Its standard error goes to ours as it is written (the progress of long runs), or with
    ``keep_stderr`` is kept, or goes to the file ``log``. A failure exits with the command
    (and the end of the kept or logged standard error).
    """
    command = [str(part) for part in command]
    if log is not None:
        with open(log, "w") as stderr:
            done = subprocess.run(command, env=env, cwd=cwd, text=True, stdout=subprocess.PIPE, stderr=stderr)
        kept = log.read_text()
    else:
        done = subprocess.run(command, env=env, cwd=cwd, text=True, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE if keep_stderr else None)
        kept = done.stderr if keep_stderr else ""
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed" + (f":\n{kept[-3000:]}" if kept else ""))
    return done.stdout


def run_json(command: list, env: dict | None = None, cwd: Path | None = None,
             keep_stderr: bool = True) -> dict:
    """``run`` ``command`` (its standard error kept by default) and parse the last line of its
    standard output, the JSON result."""
    return json.loads(run(command, env, cwd, keep_stderr).strip().splitlines()[-1])


def run_module(module: str, *args, env: dict | None = None, keep_stderr: bool = True) -> dict:
    """``run_json`` of ``python -m MODULE ARGS`` from the repository root, where ``bench``
    imports: a benchmark's worker in a fresh process."""
    return run_json([sys.executable, "-m", module, *args], env, REPO, keep_stderr)


def run_fada_tf(*args, env: dict | None = None, log: Path | None = None) -> str:
    """Run ``fada-tf ARGS``, shown on standard error first, and return its standard output
    (``run``'s ``env`` and ``log``)."""
    print("$ fada-tf", " ".join(map(str, args)), file=sys.stderr, flush=True)
    return run([*fada_tf_command(), *args], env=env, log=log)


def set_options(overrides: list[str]) -> list[str]:
    """``--set KEY=VALUE`` command-line options for ``overrides``."""
    return [option for item in overrides for option in ("--set", item)]


class Training(NamedTuple):
    """One ``fada-tf train`` run: its folder, ``--set`` overrides, base config file, and
    whether its weights are wanted (a finished run whose checkpoint is gone is then trained
    again; without, its ``metrics.json`` is enough)."""

    output: Path
    overrides: list[str]
    config: str | None = None
    needs_weights: bool = False


def finished(training: Training) -> bool:
    """Whether ``training``'s folder holds a finished run, every stage of it (and its weights,
    if needed)."""
    from fada_tf.config import load_config

    metrics, latest = training.output / "metrics.json", training.output / "checkpoints" / "latest.json"
    if not metrics.is_file():
        return False
    stages = load_config(training.config, training.overrides).run.stages
    if not set(stages) <= json.loads(metrics.read_text())["stages"].keys():
        return False
    return not training.needs_weights or (
        latest.is_file() and (latest.parent / json.loads(latest.read_text())["file"]).is_file())


def final_checkpoint(training: Training) -> Path:
    """The checkpoint ``training`` ends with (its last stage after all its steps), whether or
    not it exists yet."""
    from fada_tf.config import load_config
    from fada_tf.training.run_dir import RunDir

    config = load_config(training.config, training.overrides)
    stage = config.run.stages[-1]
    return RunDir(training.output).checkpoint_path(stage, getattr(config, stage).steps)


def train_run(training: Training, env: dict | None = None, log: Path | None = None) -> dict:
    """Run ``fada-tf train --output OUTPUT`` with ``--set`` overrides and return its metrics'
    stages. A finished run there is reused, an interrupted one resumed (``--resume``), and one
    stopped before its first checkpoint started again; a run there with another configuration
    is an error (a trial's short runs are never taken for the real ones).

    A finished run without the weights it needs is trained again and must reproduce its
    recorded metrics (confusion matrices and all), else it is an error: runs recorded from
    its old weights would mix with runs from the new ones. ``env`` and ``log``: ``run``'s.
    """
    # Imported here: the PyTorch benchmark workers import this module and must not load TensorFlow.
    from fada_tf.config import load_config, to_dict
    from fada_tf.training.state import latest_state

    output, metrics = training.output, training.output / "metrics.json"
    requested = load_config(training.config, training.overrides)
    if (output / "config.yaml").is_file():
        saved = load_config(output / "config.yaml")
        if saved != requested:
            raise SystemExit(f"{output} holds a run with another configuration "
                             f"({first_difference(to_dict(saved), to_dict(requested))}); "
                             "remove it or choose another folder")
    if finished(training):
        return json.loads(metrics.read_text())["stages"]
    record = metrics.read_text() if finished(training._replace(needs_weights=False)) else None
    if record is None and latest_state(output / "checkpoints") is not None:
        run_fada_tf("train", "--resume", output, env=env, log=log)
    else:
        shutil.rmtree(output, ignore_errors=True)
        run_fada_tf("train", "--output", output, *(["--config", training.config] if training.config else []),
                    *set_options(training.overrides), env=env, log=log)
    stages = json.loads(metrics.read_text())["stages"]
    recorded = json.loads(record)["stages"] if record is not None else stages
    if stages != recorded:
        # The record stays as it was; the weights that do not match it go.
        metrics.rename(output / "metrics.retrained.json")
        metrics.write_text(record)
        shutil.rmtree(output / "checkpoints")
        mious = ", ".join(f"{stage} mIoU {recorded[stage]['miou']:.4f} recorded, {stages[stage]['miou']:.4f} now"
                          for stage in stages)
        raise SystemExit(f"{output} was trained again for its weights and does not reproduce its "
                         f"recorded metrics ({mious}; the new ones are in metrics.retrained.json): "
                         "the runs recorded from its old weights would mix with runs from new ones; "
                         "train them all again (another --root)")
    return stages


def train_runs(trainings: list[Training], jobs: int = 1,
               after: Callable[[Training, dict | None], None] | None = None) -> list[dict]:
    """``train_run`` of each of ``trainings`` (independent of each other), ``jobs`` at a time;
    ``after(training, env)``, if given, right after each one, in the same job (``env``: the
    job's environment for a subprocess, None with one job).

    With more than one job each run gets the machine's cores divided among the jobs as
    TensorFlow's intra-op threads (one inter-op thread), writes its progress to
    ``OUTPUT.log`` beside its folder, and its end is reported on standard error. The thread
    count changes the order of floating-point sums, so runs made with another ``jobs`` can
    differ in their last digits.
    """
    env = None if jobs == 1 else thread_env(max(1, (os.cpu_count() or 1) // jobs)) | {"TF_NUM_INTEROP_THREADS": "1"}

    def one(training: Training) -> dict:
        if env is None or finished(training):
            stages = train_run(training)
        else:
            start = time.time()
            training.output.parent.mkdir(parents=True, exist_ok=True)
            stages = train_run(training, env, training.output.with_name(training.output.name + ".log"))
            print(f"finished {training.output} ({(time.time() - start) / 60:.1f} min)", file=sys.stderr, flush=True)
        if after is not None:
            after(training, env)
        return stages

    if jobs == 1:
        return [one(training) for training in trainings]

    with ThreadPoolExecutor(jobs) as pool:
        futures = [pool.submit(one, training) for training in trainings]
        wait(futures, return_when=FIRST_EXCEPTION)
        for future in futures:  # after a failure start no further run; the running ones finish
            future.cancel()
    return [future.result() for future in futures]


def first_difference(saved: dict, requested: dict, prefix: str = "") -> str:
    """``key: saved value != requested value`` for the first differing key of two config dicts."""
    for key in saved.keys() | requested.keys():
        a, b = saved.get(key), requested.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            if a != b:
                return first_difference(a, b, f"{prefix}{key}.")
        elif a != b:
            return f"{prefix}{key}: {a!r} there, {b!r} asked"
    return "none"
