"""fada_tf.training.stages.source: stage 1 starts from its configured weights."""

import numpy as np

from fada_tf.config import load_config
from fada_tf.models import build_segmentor
from fada_tf.training.run import run_training
from fada_tf.training.run_dir import RunDir


def test_source_stage_starts_from_init_checkpoint(tmp_path):
    config = load_config(None, ["model.freeze_bn=true", "source.steps=1", "source.batch_size=2",
                                "source.optimizer.learning_rate=0", "data.synthetic.source_images=2",
                                "run.stages=[source]", "data.target.val_split=''",
                                f"source.init_checkpoint={tmp_path / 'init.weights.h5'}"])
    initial = build_segmentor(config.model, 9, seed=1)
    initial.save_weights(tmp_path / "init.weights.h5")
    run = RunDir.create(tmp_path / "run", config)
    run_training(config, run, verbose=0)
    trained = build_segmentor(config.model, 9, seed=2)
    trained.load_weights(run.latest_checkpoint())
    for weight, expected in zip(trained.weights, initial.weights):
        np.testing.assert_array_equal(weight.numpy(), expected.numpy())
