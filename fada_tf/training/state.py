"""Training-state checkpoints: everything ``fada-tf train --resume`` needs to continue a stage
exactly where it stopped.

A state checkpoint holds the stage's step, the networks' weights, *both* optimisers' states
(momentum, Adam moments, the iteration counts that drive the poly schedules, the loss scale
under mixed float16) and the position of the input pipeline (shuffle and augmentation seeds
included, so the data order continues unchanged). It is a TensorFlow object checkpoint in
``RUN/checkpoints/state/{stage}-{step:06d}/``, written atomically (``fada_tf.files``), so a
kill during a write leaves the previous checkpoint intact; ``state/latest.json`` names the
newest, and only the newest ``run.keep_checkpoints`` are kept. Every worker of a
multi-worker run takes part in each save (``tf.distribute`` requires it), each into its own
run directory (``fada_tf.training.distribution.worker_path``).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import tensorflow as tf

from fada_tf.errors import FadaError
from fada_tf.files import PARTIAL, atomic_output, write_json

LATEST = "latest.json"
PREFIX = "ckpt"


@dataclass(frozen=True)
class ResumePoint:
    """Where a run stopped: ``stage`` at ``step`` (the step count already trained)."""
    stage: str
    step: int
    path: Path


def latest_state(checkpoints: Path) -> ResumePoint | None:
    """The newest complete state checkpoint under ``checkpoints/state``, or None."""
    pointer = checkpoints / "state" / LATEST
    if not pointer.is_file():
        return None
    entry = json.loads(pointer.read_text())
    path = pointer.parent / entry["dir"]
    if not path.is_dir():
        raise FadaError(f"{pointer} names {entry['dir']}, which does not exist")
    return ResumePoint(entry["stage"], int(entry["step"]), path)


class TrainingState:
    """The checkpointable state of one stage: ``step`` plus the given trackable objects.

    Args:
        checkpoints: ``RUN/checkpoints``.
        stage: the stage's name, part of each checkpoint's name.
        keep: how many state checkpoints to keep.
        objects: name → trackable (networks, optimisers, the data iterator).
    """

    def __init__(self, checkpoints: Path, stage: str, keep: int, **objects):
        self.folder = Path(checkpoints) / "state"
        self.stage, self.keep = stage, keep
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        self.checkpoint = tf.train.Checkpoint(step=self.step, **objects)

    def restore(self, point: ResumePoint) -> int:
        """Load ``point``; every object of this stage must be found in it. Returns the step."""
        status = self.checkpoint.read(str(point.path / PREFIX))
        try:
            status.assert_existing_objects_matched()
        except AssertionError as err:
            raise FadaError(f"{point.path} does not match this run's {self.stage} stage "
                            f"(was the config changed?): {str(err).splitlines()[0]}") from None
        return int(self.step.numpy())

    def save(self, step: int) -> Path:
        """Write the state at ``step`` atomically and prune old checkpoints; returns its folder."""
        self.step.assign(step)
        name = f"{self.stage}-{step:06d}"
        final = self.folder / name
        with atomic_output(final) as partial:
            self.checkpoint.write(str(partial / PREFIX))
        write_json(self.folder / LATEST, {"stage": self.stage, "step": step, "dir": name})
        self._prune()
        return final

    def _prune(self) -> None:
        """Delete all but the newest ``keep`` complete checkpoints, and any stale partial ones."""
        complete = [p for p in self.folder.iterdir() if p.is_dir() and not p.name.startswith(PARTIAL)]
        complete.sort(key=lambda p: p.stat().st_mtime_ns)
        for path in complete[:-self.keep]:
            shutil.rmtree(path, ignore_errors=True)
        for path in self.folder.glob(f"{PARTIAL}*"):
            shutil.rmtree(path, ignore_errors=True)

