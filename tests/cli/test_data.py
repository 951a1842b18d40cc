"""``fada-tf data``: help with examples, JSON reports, one-line errors without traceback."""

import json

import pytest
from click.testing import CliRunner

from fada_tf.cli.main import cli
from tests.support.cli_invoke import run_process
from tests.support.raw_fixtures import write_gta5


@pytest.mark.parametrize("command", ["prepare", "check"])
def test_subcommands_have_help_with_an_example(command):
    result = CliRunner().invoke(cli, ["data", command, "-h"])
    assert result.exit_code == 0
    assert "Example" in result.output and f"fada-tf data {command}" in result.output


def test_prepare_reports_each_split_as_json(tmp_path):
    write_gta5(tmp_path / "raw", count=3, label_shapes={"00002": (20, 32)})
    result = CliRunner().invoke(cli, ["data", "prepare", "--dataset", "gta5", "--root", str(tmp_path / "raw"),
                                      "--out", str(tmp_path / "out"), "--fix-sizes", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["splits"]["train"] == {"images": 3, "skipped": 0, "labels_resized": 1, "unknown_label_pixels": {}}
    assert "gta5 train: 3/3 pairs" in result.stderr


@pytest.mark.parametrize("args,message", [
    (["prepare", "--dataset", "gta5", "--root", "{tmp}/raw", "--out", "{tmp}/out"],
     "1 bad pair(s) in gta5 train, the first: {tmp}/raw/labels/00002.png: label is 32x20"),
    (["prepare", "--dataset", "gta5", "--root", "{tmp}/nothing", "--out", "{tmp}/out"], "does not exist"),
    (["check", "{tmp}/raw"], "is not a prepared dataset (no manifest.json)"),
])
def test_bad_input_is_one_line_and_a_nonzero_exit(tmp_path, args, message):
    write_gta5(tmp_path / "raw", count=3, label_shapes={"00002": (20, 32)})
    args = [a.format(tmp=tmp_path) for a in args]
    proc = run_process("data", *args, check=False)
    assert proc.returncode != 0
    assert message.format(tmp=tmp_path) in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert not (tmp_path / "out").exists()


def test_train_with_an_unprepared_dataset_stops_before_creating_the_run(tmp_path, repo):
    proc = run_process("train", "--config", str(repo / "configs" / "gta5_to_cityscapes_r101.yaml"), "--set",
                       f"data.source.root={tmp_path / 'gta5'}", "--output", str(tmp_path / "run"), check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert (f"data.source.root = {tmp_path / 'gta5'} is not a prepared dataset (no manifest.json); make it with "
            f"`fada-tf data prepare --dataset gta5 --root RAW_GTA5 --out {tmp_path / 'gta5'}`") in proc.stderr
    assert not (tmp_path / "run").exists()
