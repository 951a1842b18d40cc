"""Pre-emption safety: exact resume after kill -9 (also in the middle of a checkpoint write) and
after SIGTERM, the kept checkpoints, and the stop on a non-finite loss.

Each run is a real ``fada-tf train`` process on a tiny model; a resumed run must end with the
same weights, optimiser states and data position as one that was never interrupted.
"""

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.support.run_state import assert_same_state, state_values

SOURCE_STEPS, ADAPT_STEPS, DISTILL_STEPS, KEEP = 4, 6, 5, 3
TINY = ["model.tiny_width=4", "model.freeze_bn=true", "model.discriminator_channels=[8,8]",
        "run.stages=[source,adapt,distill]", f"source.steps={SOURCE_STEPS}",
        f"adapt.steps={ADAPT_STEPS}", f"distill.steps={DISTILL_STEPS}", "source.batch_size=2",
        "adapt.batch_size=2", "distill.batch_size=2", "run.log_every=1", "run.checkpoint_every=1",
        f"run.keep_checkpoints={KEEP}", "data.synthetic.source_images=8",
        "data.synthetic.target_train_images=8", "data.synthetic.target_val_images=2",
        "data.eval_batch_size=2"]


def command(*args, overrides=TINY):
    sets = [a for o in overrides for a in ("--set", o)]
    return [sys.executable, "-m", "fada_tf.cli", "train", *args, *sets]


def run(args, check=True):
    proc = subprocess.run(args, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(proc.stderr[-3000:])
    return proc


def latest(run_dir):
    pointer = run_dir / "checkpoints" / "state" / "latest.json"
    return json.loads(pointer.read_text()) if pointer.is_file() else None


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """A run that was never interrupted."""
    out = tmp_path_factory.mktemp("straight") / "run"
    run(command("--output", str(out)))
    return out


def test_only_the_newest_checkpoints_are_kept(straight):
    folder = straight / "checkpoints" / "state"
    kept = sorted(p.name for p in folder.iterdir() if p.is_dir())
    assert kept == [f"distill-{s:06d}" for s in range(DISTILL_STEPS - KEEP + 1, DISTILL_STEPS + 1)]
    assert latest(straight) == {"stage": "distill", "step": DISTILL_STEPS, "dir": f"distill-{DISTILL_STEPS:06d}"}


def test_both_optimisers_of_the_adaptation_stage_are_checkpointed(tmp_path):
    out = tmp_path / "run"
    run(command("--output", str(out), overrides=TINY + ["run.stages=[source,adapt]"]))
    keys = state_values(out).keys()
    assert any(k.startswith("optimizer/") for k in keys)
    assert any(k.startswith("discriminator_optimizer/") for k in keys)


def test_kill_9_in_distillation_mid_checkpoint_write_then_resume_equals_a_straight_run(straight, tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen(command("--output", str(out)), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    state = out / "checkpoints" / "state"
    deadline = time.time() + 300
    # Wait until the distillation stage has checkpointed, then kill while a checkpoint is being
    # written (a .partial- folder exists), so that the kill interrupts a write.
    while time.time() < deadline and proc.poll() is None:
        point = latest(out) if state.is_dir() else None
        if point and point["stage"] == "distill" and point["step"] >= 2 and any(state.glob(".partial-*")):
            break
        time.sleep(0.001)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    point = latest(out)
    assert point["stage"] == "distill" and 2 <= point["step"] < DISTILL_STEPS, point
    # Whatever the kill left half-written, the pointer names a complete checkpoint ...
    state_values(out)
    # ... and a half-written one, even a newer one, is never used.
    garbage = state / f".partial-distill-{DISTILL_STEPS - 1:06d}"
    garbage.mkdir(exist_ok=True)
    (garbage / "ckpt.index").write_bytes(b"\0" * 10)

    resumed = run(command("--resume", str(out), overrides=[]))
    assert "self-distilled" in resumed.stdout and "FADA" in resumed.stdout
    assert_same_state(state_values(out), state_values(straight))
    assert not list(state.glob(".partial-*"))


def test_sigterm_saves_and_exits_cleanly_then_resume_equals_a_straight_run(straight, tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen(command("--output", str(out)), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        point = latest(out)
        if point and point["stage"] == "adapt" and point["step"] >= 1:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, stderr[-2000:]
    assert "Traceback" not in stderr
    assert "SIGTERM at adapt step" in stderr and f"fada-tf train --resume {out}" in stderr
    stopped = int(stderr.split("SIGTERM at adapt step ")[1].split("/")[0])
    assert latest(out)["step"] == stopped          # the checkpoint is of the step it stopped at

    run(command("--resume", str(out), overrides=[]))
    assert_same_state(state_values(out), state_values(straight))


def test_non_finite_loss_stops_with_the_step_and_keeps_the_last_good_checkpoint(tmp_path):
    out = tmp_path / "run"
    overrides = TINY + ["source.optimizer.learning_rate=1e12", "run.stages=[source]"]
    proc = run(command("--output", str(out), overrides=overrides), check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "non-finite loss at source step" in proc.stderr and "seg_loss = nan" in proc.stderr
    failed = int(proc.stderr.split("non-finite loss at source step ")[1].split(":")[0])
    point = latest(out)
    assert point is not None and point["step"] == failed - 1
    values = state_values(out)
    assert all(np.all(np.isfinite(v)) for v in values.values() if v.dtype.kind == "f")


def test_resume_needs_a_checkpoint_and_keeps_the_precision(tmp_path):
    out = tmp_path / "run"
    proc = run(command("--resume", str(out), overrides=[]), check=False)
    assert proc.returncode != 0 and "is not a run directory" in proc.stderr
    proc = run(command("--output", str(out), overrides=TINY + ["run.stages=[source]"]))
    proc = run(command("--resume", str(out), "--precision", "mixed_float16", overrides=[]), check=False)
    assert proc.returncode != 0 and "cannot change it" in proc.stderr and "Traceback" not in proc.stderr
