"""Running the commands the benchmarks measure: ``fada-tf``, and benchmark workers in fresh processes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

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
        keep_stderr: bool = False) -> str:
    """Run ``command`` and return its standard output.

    Its standard error goes to ours as it is written (the progress of long runs) or, with
    ``keep_stderr``, is kept. A failure exits with the command (and the end of the kept
    standard error).
    """
    command = [str(part) for part in command]
    done = subprocess.run(command, env=env, cwd=cwd, text=True, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE if keep_stderr else None)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed" + (f":\n{done.stderr[-3000:]}" if keep_stderr else ""))
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


def run_fada_tf(*args) -> str:
    """Run ``fada-tf ARGS``, shown on standard error first, and return its standard output."""
    print("$ fada-tf", " ".join(map(str, args)), file=sys.stderr, flush=True)
    return run([*fada_tf_command(), *args])


def train_run(output: Path, overrides: list[str], config: str | None = None) -> dict:
    """Run ``fada-tf train --output OUTPUT`` with ``--set`` overrides and return its metrics'
    stages. A finished run there is reused, an interrupted one resumed (``--resume``), and one
    stopped before its first checkpoint started again; a run there with another configuration
    is an error (a trial's short runs are never taken for the real ones)."""
    # Imported here: the PyTorch benchmark workers import this module and must not load TensorFlow.
    from fada_tf.config import load_config, to_dict
    from fada_tf.training.state import latest_state

    requested = load_config(config, overrides)
    if (output / "config.yaml").is_file():
        saved = load_config(output / "config.yaml")
        if saved != requested:
            raise SystemExit(f"{output} holds a run with another configuration "
                             f"({first_difference(to_dict(saved), to_dict(requested))}); "
                             "remove it or choose another folder")
    metrics = output / "metrics.json"
    if not metrics.is_file():
        if latest_state(output / "checkpoints") is not None:
            run_fada_tf("train", "--resume", output)
        else:
            shutil.rmtree(output, ignore_errors=True)
            run_fada_tf("train", "--output", output, *(["--config", config] if config else []),
                        *(a for item in overrides for a in ("--set", item)))
    return json.loads(metrics.read_text())["stages"]


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
