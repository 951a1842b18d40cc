"""Running ``fada-tf``: ``invoke`` in-process (click's CliRunner), by default asserting success;
``run_process`` in a new interpreter (``python -m fada_tf.cli``), as a user runs it."""

import subprocess
import sys

from click.testing import CliRunner

from fada_tf.cli.main import cli


def invoke(*args, ok=True):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    if ok:
        assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    return result


def run_process(*args, check=True):
    """``fada-tf ARGS`` in a new process (output captured as text); with ``check``, an
    AssertionError with the end of stderr unless it exits with 0."""
    args = [str(a) for a in args]
    proc = subprocess.run([sys.executable, "-m", "fada_tf.cli", *args], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"fada-tf {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return proc
