"""A state checkpoint restores *both* optimisers, the networks, the step and the data position.

Keras restores can silently skip an optimiser's slots when it was built on other variables;
here a fresh model with other initial weights and fresh optimisers must come back to exactly
the saved values, and the restored iterator must yield the batch the original yields next.
"""

import numpy as np
import tensorflow as tf

from fada_tf.adaptation import FADAModel
from fada_tf.config.schema import ModelConfig
from fada_tf.models import build_discriminator, build_segmentor
from fada_tf.training.optimizers import TorchAdam, TorchSGD
from fada_tf.training.state import TrainingState, latest_state
from fada_tf.training.steps import compiled_step

K = 3


def model(seed):
    # Trainable BatchNorm: its running statistics are state too.
    segmentor = build_segmentor(ModelConfig(backbone="tiny", tiny_width=4, freeze_bn=False), K, seed=seed)
    discriminator = build_discriminator(segmentor.output["features"].shape[-1], K, channels=(8, 8), seed=seed + 1)
    fada = FADAModel(segmentor, discriminator)
    fada.compile(segmentor_optimizer=TorchSGD(0.01, momentum=0.9),
                 discriminator_optimizer=TorchAdam(1e-3, beta_2=0.99))
    return fada


def data():
    rng = np.random.default_rng(0)
    source = tf.data.Dataset.from_tensor_slices((rng.normal(size=(6, 16, 16, 3)).astype("float32"),
                                                 rng.integers(0, K, (6, 16, 16)).astype("int32")))
    target = tf.data.Dataset.from_tensor_slices(rng.normal(size=(6, 16, 16, 3)).astype("float32"))
    pairs = tf.data.Dataset.zip((source.shuffle(6, seed=1).repeat(), target.shuffle(6, seed=2).repeat()))
    return pairs.batch(2)


def state(folder, fada, iterator):
    return TrainingState(folder, "adapt", keep=2, data=iterator, segmentor=fada.segmentor,
                         discriminator=fada.discriminator, optimizer=fada.optimizer,
                         discriminator_optimizer=fada.discriminator_optimizer)


def variables(fada):
    return [v.numpy().copy() for v in (fada.segmentor.weights + fada.discriminator.weights
                                       + fada.optimizer.variables + fada.discriminator_optimizer.variables)]


def test_restore_brings_back_both_optimisers_networks_step_and_data_position(tmp_path):
    strategy = tf.distribute.get_strategy()
    original = model(seed=0)
    iterator = iter(data())
    step = compiled_step(strategy, original)
    for _ in range(3):
        step(iterator)
    state(tmp_path, original, iterator).save(3)
    saved = variables(original)

    fresh = model(seed=7)
    fresh_iterator = iter(data())
    assert any(not np.array_equal(a, b) for a, b in zip(variables(fresh), saved))
    restored_step = state(tmp_path, fresh, fresh_iterator).restore(latest_state(tmp_path))
    assert restored_step == 3
    after = variables(fresh)
    assert len(after) == len(saved)
    for a, b in zip(after, saved):
        np.testing.assert_array_equal(a, b)
    assert int(fresh.optimizer.iterations.numpy()) == int(fresh.discriminator_optimizer.iterations.numpy()) == 3
    expected, actual = next(iterator), next(fresh_iterator)
    tf.nest.map_structure(np.testing.assert_array_equal, actual, expected)
