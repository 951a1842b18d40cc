"""``invoke``: run ``fada-tf`` in-process (click's CliRunner), by default asserting success."""

from click.testing import CliRunner

from fada_tf.cli.main import cli


def invoke(*args, ok=True):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    if ok:
        assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    return result
