"""The benchmarks' run reuse (bench/common.py): a recorded run is reused without its weights
unless they are wanted, and runs can be trained side by side."""

import json

import pytest

from bench.common import Training, final_checkpoint, finished, train_run, train_runs

TINY = ["run.stages=[source]", "source.steps=2", "source.batch_size=2", "run.log_every=1",
        "data.synthetic.height=32", "data.synthetic.width=64", "data.synthetic.source_images=4",
        "data.synthetic.target_train_images=4", "data.synthetic.target_val_images=2",
        "source.source_images.resize=[32,64]", "source.source_images.crop=[32,64]"]


@pytest.mark.slow
def test_a_recorded_run_is_reused_and_trained_again_only_for_its_weights(tmp_path):
    first, second = (Training(tmp_path / name, [*TINY, f"run.seed={seed}"]) for name, seed in (("a", 0), ("b", 1)))
    stages = train_runs([first, second], jobs=2)
    assert all(0 <= s["source"]["miou"] <= 1 for s in stages) and stages[0] != stages[1]
    assert final_checkpoint(first).is_file() and (tmp_path / "a.log").is_file()

    # What the study keeps in git: config and metrics, no checkpoints.
    for path in (tmp_path / "a" / "checkpoints").rglob("*"):
        if path.is_file():
            path.unlink()
    metrics = (tmp_path / "a" / "metrics.json").read_text()
    assert finished(first) and not finished(first._replace(needs_weights=True))
    assert train_run(first) == json.loads(metrics)["stages"]  # reused: nothing trained
    assert not final_checkpoint(first).is_file()

    train_run(first._replace(needs_weights=True))  # trained again for its weights
    assert final_checkpoint(first).is_file()

    with pytest.raises(SystemExit, match="source.steps: 2 there, 3 asked"):
        train_run(Training(first.output, [*TINY, "source.steps=3"]))
