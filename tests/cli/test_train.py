"""``fada-tf train`` end to end on the synthetic shift: a tiny run, then ``eval`` of it, in new
processes as a user runs them."""

import json
import subprocess
import sys

import pytest

from tests.support.cli_invoke import run_process

TINY = ["--set", "model.tiny_width=4", "--set", "model.discriminator_channels=[8,8]",
        "--set", "source.steps=4", "--set", "adapt.steps=5", "--set", "source.batch_size=2",
        "--set", "adapt.batch_size=2", "--set", "run.log_every=2", "--set", "run.checkpoint_every=2",
        "--set", "data.synthetic.source_images=8", "--set", "data.synthetic.target_train_images=8",
        "--set", "data.synthetic.target_val_images=5", "--set", "data.eval_batch_size=2"]


UNUSED_BY_TRAINING = ("onnx", "tf2onnx", "onnxruntime", "torch")


def train_process(*args):
    """``fada-tf train ARGS`` in a new process; its standard output, and which of
    ``UNUSED_BY_TRAINING`` it had imported by the end."""
    code = ("import sys\nfrom fada_tf.cli.main import cli\n"
            f"try:\n    cli({['train', *map(str, args)]!r})\n"
            "except SystemExit as done:\n    assert not done.code, done.code\n"
            f"print(sorted(m for m in {UNUSED_BY_TRAINING!r} if m in sys.modules), file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout, proc.stderr.strip().splitlines()[-1]


@pytest.mark.slow
def test_train_then_eval_end_to_end(tmp_path):
    """... and training imports neither the exporters' onnx / tf2onnx / onnxruntime nor torch
    (the converter's); Keras itself imports matplotlib when it is installed."""
    run_dir = tmp_path / "run"
    stdout, imported = train_process("--output", run_dir, "--json", *TINY)
    assert imported == "[]"
    result = json.loads(stdout)
    assert result["run_dir"] == str(run_dir)
    for stage in ("source", "adapt"):
        stage_result = result["stages"][stage]
        assert 0.0 <= stage_result["miou"] <= 1.0
        assert len(stage_result["per_class_iou"]) == 9
        assert stage_result["num_images"] == 5
    assert (run_dir / "config.yaml").is_file()
    assert json.loads((run_dir / "metrics.json").read_text())["stages"] == result["stages"]
    checkpoints = sorted(p.name for p in (run_dir / "checkpoints").glob("*.weights.h5"))
    assert checkpoints == ["adapt-000002.weights.h5", "adapt-000004.weights.h5", "adapt-000005.weights.h5",
                           "source-000002.weights.h5", "source-000004.weights.h5"]
    assert list((run_dir / "logs" / "adapt").rglob("events.out.tfevents.*"))

    evaluated = json.loads(run_process("eval", "--run", str(run_dir), "--json").stdout)
    assert evaluated["miou"] == pytest.approx(result["stages"]["adapt"]["miou"], abs=1e-9)
    assert evaluated["checkpoint"].endswith("adapt-000005.weights.h5")

    table = run_process("eval", "--config", str(run_dir / "config.yaml"), "--checkpoint",
                        str(run_dir / "checkpoints" / "source-000004.weights.h5")).stdout
    assert "mIoU" in table and f"{100 * result['stages']['source']['miou']:.1f}" in table

    again = run_process("train", "--output", str(run_dir), *TINY, check=False)
    assert again.returncode != 0 and "already exists" in again.stderr


@pytest.mark.slow
def test_checkpoint_of_another_model_is_a_clear_error(tmp_path):
    run_dir = tmp_path / "run"
    run_process("train", "--output", str(run_dir), "--set", "run.stages=[source]", *TINY)
    proc = run_process("eval", "--run", str(run_dir), "--set", "model.tiny_width=8", check=False)
    assert proc.returncode != 0 and "does not match the configured model" in proc.stderr
    assert "Traceback" not in proc.stderr

