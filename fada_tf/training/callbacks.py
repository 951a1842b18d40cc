"""Keras callbacks of a training run."""

from __future__ import annotations

import keras

from fada_tf.training.run_dir import RunDir


class PeriodicCheckpoint(keras.callbacks.Callback):
    """Save the segmentor's weights every ``every`` steps of a stage (atomically, see RunDir)."""

    def __init__(self, run: RunDir, segmentor, stage: str, every: int):
        super().__init__()
        self.run, self.segmentor, self.stage, self.every = run, segmentor, stage, every
        self.step = 0

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        if self.every > 0 and self.step % self.every == 0:
            self.run.save_segmentor(self.segmentor, self.stage, self.step)
