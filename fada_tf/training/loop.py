"""The training loop of one stage, under any ``tf.distribute`` strategy.

Per step: ``compiled_step`` (the model's ``train_step_losses`` on every replica), a check that
every loss is finite, progress, and every ``run.checkpoint_every`` steps a state checkpoint
(``fada_tf.training.state``) plus the segmentor's weights. A non-finite loss stops the stage
with the step and the loss named and writes nothing, so the last good checkpoint stays the
newest; SIGTERM / SIGINT save a checkpoint after the current step and stop.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass

import tensorflow as tf

from fada_tf.errors import FadaError
from fada_tf.progress import Progress, format_duration
from fada_tf.training.interrupt import Interrupted, catch_stop_signals
from fada_tf.training.run_dir import RunDir
from fada_tf.training.state import TrainingState
from fada_tf.training.steps import compiled_step


@dataclass
class LoopSettings:
    """What the loop needs besides the model: how long, how often, and where to."""
    stage: str
    steps: int
    checkpoint_every: int
    log_every: int
    jit: bool = False
    verbose: int = 1       # 1: live progress bar, 2: one line per report, 0: silent


class NonFiniteLoss(FadaError):
    """A loss became NaN or infinite."""


def train_loop(strategy, model, iterator, state: TrainingState, run: RunDir, segmentor,
               settings: LoopSettings, start: int = 0) -> None:
    """Train ``model`` from step ``start`` to ``settings.steps`` on ``iterator``.

    ``state`` is saved at checkpoints and at the end, and the segmentor's weights
    (``RUN/checkpoints/{stage}-{step}.weights.h5``, what ``eval`` and ``export`` read) with it.
    """
    step_fn = compiled_step(strategy, model, settings.jit)
    summaries = tf.summary.create_file_writer(str(run.logs / settings.stage))
    progress = _Progress(settings, start)
    step = start
    with catch_stop_signals() as stop, progress:
        while step < settings.steps:
            losses = {name: float(value) for name, value in step_fn(iterator).items()}
            step += 1
            _check_finite(losses, settings.stage, step, run)
            progress.update(step, losses, summaries, model)
            if stop:
                _checkpoint(state, run, segmentor, step)
                raise Interrupted(f"{stop.name} at {settings.stage} step {step}/{settings.steps}: "
                                  f"checkpoint saved; continue with `fada-tf train --resume {run.path}`",
                                  stop.signum)
            if settings.checkpoint_every > 0 and step % settings.checkpoint_every == 0:
                _checkpoint(state, run, segmentor, step)
    just_saved = step > start and settings.checkpoint_every > 0 and step % settings.checkpoint_every == 0
    if not just_saved:
        _checkpoint(state, run, segmentor, step)


def _checkpoint(state: TrainingState, run: RunDir, segmentor, step: int) -> None:
    state.save(step)
    run.save_segmentor(segmentor, state.stage, step)


def _check_finite(losses: dict, stage: str, step: int, run: RunDir) -> None:
    bad = {name: value for name, value in losses.items() if not math.isfinite(value)}
    if bad:
        described = ", ".join(f"{name} = {value}" for name, value in bad.items())
        raise NonFiniteLoss(f"non-finite loss at {stage} step {step}: {described}; training "
                            f"stopped and nothing was saved after it: the newest checkpoint in "
                            f"{run.checkpoints} is the last good one (lower the learning rate?)")


class _Progress:
    """Window averages of the losses: a live bar (rate, ETA, latest losses) on a terminal or a
    line per ``log_every`` steps, and TensorBoard scalars (losses, learning rates, steps/s)."""

    def __init__(self, settings: LoopSettings, start: int):
        self.settings = settings
        self.bar = (Progress(settings.steps, settings.stage, "step", verbose=1, initial=start)
                    if settings.verbose == 1 else None)
        self.window: dict[str, float] = {}
        self.count, self.since = 0, time.perf_counter()

    def update(self, step: int, losses: dict, summaries, model) -> None:
        for name, value in losses.items():
            self.window[name] = self.window.get(name, 0.0) + value
        self.count += 1
        if self.bar is not None:
            self.bar.update(values=losses)
        if step % self.settings.log_every and step != self.settings.steps:
            return
        means = {name: total / self.count for name, total in self.window.items()}
        steps_per_s = self.count / max(time.perf_counter() - self.since, 1e-9)
        if self.settings.verbose == 2:
            text = "  ".join(f"{name} {value:.4f}" for name, value in means.items())
            left = (self.settings.steps - step) / steps_per_s
            eta = f"  ETA {format_duration(left)}" if step < self.settings.steps else ""
            print(f"{self.settings.stage} step {step}/{self.settings.steps}  {text}  "
                  f"{steps_per_s:.2f} steps/s{eta}", file=sys.stderr, flush=True)
        with summaries.as_default(step=step):
            for name, value in means.items():
                tf.summary.scalar(name, value)
            tf.summary.scalar("steps_per_s", steps_per_s)
            for optimizer in _optimizers(model):
                tf.summary.scalar(f"learning_rate/{optimizer.name}", float(optimizer.learning_rate))
        self.window, self.count, self.since = {}, 0, time.perf_counter()

    def __enter__(self) -> "_Progress":
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.close()


def _optimizers(model) -> list:
    return [o for o in (model.optimizer, getattr(model, "discriminator_optimizer", None)) if o is not None]
