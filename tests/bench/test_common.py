"""The benchmarks' run reuse (bench/common.py): a recorded run is reused without its weights
unless they are wanted; trained again for them, it must reproduce its record."""

import json
import shutil

import pytest

from bench.common import Training, final_checkpoint, finished, train_run, train_runs
from tests.support.tiny_runs import TINY


@pytest.mark.slow
def test_a_recorded_run_is_reused_and_trained_again_only_for_its_weights(tmp_path):
    first, second = (Training(tmp_path / name, [*TINY, f"run.seed={seed}"]) for name, seed in (("a", 0), ("b", 1)))
    done = {}  # what `after` sees: the run finished, the job's thread settings

    def after(training, env):
        done[training.output.name] = ((training.output / "metrics.json").is_file(), env["TF_NUM_INTEROP_THREADS"])

    stages = train_runs([first, second], jobs=2, after=after)
    assert all(0 <= s["source"]["miou"] <= 1 for s in stages)
    assert done == {"a": (True, "1"), "b": (True, "1")}
    assert final_checkpoint(first).is_file() and (tmp_path / "a.log").is_file()

    # What the study keeps in git: config and metrics, no checkpoints.
    shutil.rmtree(tmp_path / "a" / "checkpoints")
    record = (tmp_path / "a" / "metrics.json").read_text()
    assert finished(first) and not finished(first._replace(needs_weights=True))
    assert train_run(first) == json.loads(record)["stages"]  # reused: nothing trained
    assert not final_checkpoint(first).is_file()

    # Trained again for its weights, with the same threads: the same metrics, to the last pixel.
    assert train_runs([first._replace(needs_weights=True)], jobs=2) == [stages[0]]
    assert final_checkpoint(first).is_file()

    with pytest.raises(SystemExit, match="source.steps: 2 there, 3 asked"):
        train_run(Training(first.output, [*TINY, "source.steps=3"]))


@pytest.mark.slow
def test_weights_that_do_not_reproduce_the_record_are_an_error_and_the_record_stays(tmp_path):
    run = Training(tmp_path / "a", TINY)
    train_run(run)
    metrics = tmp_path / "a" / "metrics.json"
    edited = json.loads(metrics.read_text())
    edited["stages"]["source"]["miou"] += 0.01  # as if recorded from other weights
    metrics.write_text(json.dumps(edited))
    shutil.rmtree(tmp_path / "a" / "checkpoints")

    with pytest.raises(SystemExit, match="does not reproduce its recorded metrics"):
        train_run(run._replace(needs_weights=True))
    assert json.loads(metrics.read_text()) == edited
    assert (tmp_path / "a" / "metrics.retrained.json").is_file()
    assert not (tmp_path / "a" / "checkpoints").exists()  # no weights that contradict the record
