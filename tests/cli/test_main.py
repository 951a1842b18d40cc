"""The command line (``fada_tf.cli.main``): help everywhere, clean one-line errors.

The tiny end-to-end run of ``train`` then ``eval`` is in tests/cli/test_train.py."""

import subprocess
import sys

import pytest
from click.testing import CliRunner

from fada_tf.cli.main import cli
from tests.support.cli_invoke import run_process

COMMANDS = [name for name in cli.commands]


def test_top_level_help_lists_the_commands():
    result = CliRunner().invoke(cli, ["-h"])
    assert result.exit_code == 0
    for name in ("train", "eval"):
        assert name in result.output


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_help_with_an_example(name):
    result = CliRunner().invoke(cli, [name, "-h"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.output and "fada-tf " + name in result.output


def test_help_does_not_import_tensorflow():
    code = "import sys; from fada_tf.cli.main import cli; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("args,message", [
    (["train", "--set", "adapt.lamda_adv=0.1"], "did you mean adapt.lambda_adv"),
    (["train", "--config", "no/such.yaml"], "config file not found: no/such.yaml"),
    (["eval", "--run", "no/such/run"], "no/such/run is not a run directory"),
    (["eval"], "say which model: --run RUN, or --config FILE --checkpoint WEIGHTS"),
])
def test_bad_input_is_one_line_and_a_nonzero_exit(args, message):
    proc = run_process(*args, check=False)
    assert proc.returncode != 0
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""
