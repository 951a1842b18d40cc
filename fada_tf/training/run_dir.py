"""The run directory: ``config.yaml``, ``checkpoints/``, ``logs/`` and ``metrics.json``.

Files are written atomically (``fada_tf.files.atomic_output``), so an interruption never
leaves a half-written checkpoint or metrics file behind.
"""

from __future__ import annotations

import json
from pathlib import Path

from fada_tf.config import Config, dump_config, load_config
from fada_tf.errors import FadaError
from fada_tf.files import atomic_output, write_json

LATEST = "latest.json"


class RunDir:
    """Paths and atomic writers of one training run."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    config_path = property(lambda self: self.path / "config.yaml")
    checkpoints = property(lambda self: self.path / "checkpoints")
    logs = property(lambda self: self.path / "logs")
    metrics_path = property(lambda self: self.path / "metrics.json")
    # Outside checkpoints/, which holds segmentor weights only.
    discriminator_path = property(lambda self: self.path / "discriminator.weights.h5")

    @classmethod
    def create(cls, path: str | Path, config: Config) -> "RunDir":
        """A new run directory holding the resolved config; an existing non-empty one is an error."""
        run = cls(path)
        if run.path.exists() and any(run.path.iterdir()):
            raise FadaError(f"run directory {run.path} already exists and is not empty; "
                            "choose another --output")
        run.checkpoints.mkdir(parents=True, exist_ok=True)
        run.logs.mkdir(exist_ok=True)
        dump_config(config, run.config_path)
        return run

    @classmethod
    def open(cls, path: str | Path) -> "RunDir":
        run = cls(path)
        if not run.config_path.is_file():
            raise FadaError(f"{run.path} is not a run directory (no config.yaml); "
                            "train one with `fada-tf train --output DIR`")
        return run

    def load_config(self) -> Config:
        return load_config(self.config_path)

    def checkpoint_path(self, stage: str, step: int) -> Path:
        """Where the segmentor's weights after ``step`` steps of ``stage`` are saved."""
        return self.checkpoints / f"{stage}-{step:06d}.weights.h5"

    def save_segmentor(self, segmentor, stage: str, step: int) -> Path:
        """Write the segmentor's weights to ``checkpoint_path(stage, step)`` and mark it latest."""
        path = self.checkpoint_path(stage, step)
        with atomic_output(path) as partial:
            segmentor.save_weights(partial)
        write_json(self.checkpoints / LATEST, {"stage": stage, "step": step, "file": path.name})
        return path

    def save_discriminator(self, discriminator) -> Path:
        """Write the discriminator's weights to ``discriminator.weights.h5`` (atomically)."""
        with atomic_output(self.discriminator_path) as partial:
            discriminator.save_weights(partial)
        return self.discriminator_path

    def latest_checkpoint(self) -> Path:
        pointer = self.checkpoints / LATEST
        if not pointer.is_file():
            raise FadaError(f"{self.path} has no checkpoint yet ({pointer} is missing)")
        path = self.checkpoints / json.loads(pointer.read_text())["file"]
        if not path.is_file():
            raise FadaError(f"{pointer} names {path.name}, which does not exist")
        return path

    def read_metrics(self) -> dict:
        return json.loads(self.metrics_path.read_text()) if self.metrics_path.is_file() else {}

    def write_metrics(self, metrics: dict) -> None:
        write_json(self.metrics_path, metrics)

