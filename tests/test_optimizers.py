"""The segmentor's SGD follows torch.optim.SGD's rule; poly schedules follow the 'poly' policy."""

import keras
import numpy as np
import pytest

from fada_tf.config.schema import AdamConfig, SGDConfig
from fada_tf.training.optimizers import (TorchSGD, discriminator_optimizer, poly_schedule,
                                         segmentor_optimizer)


def torch_sgd_reference(w, grads, lrs, momentum, wd):
    """torch.optim.SGD(momentum, weight_decay, dampening=0, nesterov=False), written out."""
    v = None
    for g, lr in zip(grads, lrs):
        d = g + wd * w
        v = d if v is None else momentum * v + d  # torch's first step sets the buffer to d
        w = w - lr * v
    return w


def test_torch_sgd_matches_torch_rule_under_a_changing_learning_rate():
    rng = np.random.default_rng(0)
    w0 = rng.normal(size=(3, 4)).astype(np.float32)
    grads = [rng.normal(size=(3, 4)).astype(np.float32) for _ in range(6)]
    schedule = poly_schedule(0.1, 0.9, horizon=8)
    lrs = [float(schedule(i)) for i in range(6)]
    var = keras.Variable(w0)
    opt = TorchSGD(learning_rate=schedule, momentum=0.9, l2_weight_decay=0.01)
    for g in grads:
        opt.apply([g], [var])
    expected = torch_sgd_reference(w0.astype(np.float64), grads, lrs, 0.9, 0.01)
    np.testing.assert_allclose(var.numpy(), expected, rtol=1e-5, atol=1e-6)
    # Keras' own SGD folds lr into the velocity and decays weights decoupled: a different result.
    other = keras.Variable(w0)
    keras_sgd = keras.optimizers.SGD(learning_rate=poly_schedule(0.1, 0.9, 8), momentum=0.9, weight_decay=0.01)
    for g in grads:
        keras_sgd.apply([g], [other])
    assert not np.allclose(other.numpy(), expected, atol=1e-4)


def test_head_variables_get_the_learning_rate_multiplier():
    opt = segmentor_optimizer(SGDConfig(learning_rate=0.5, momentum=0.0, weight_decay=0.0,
                                        head_lr_multiplier=10.0), steps=100)
    assert opt.multiplier_for("segmentor/aspp/branch_0/kernel") == 10.0
    assert opt.multiplier_for("segmentor/backbone/conv1/kernel") == 1.0
    head, body = keras.Variable(np.ones(2, np.float32), name="aspp_kernel"), keras.Variable(np.ones(2, np.float32))
    assert "aspp" in head.path and "aspp" not in body.path
    opt.apply([np.ones(2, np.float32)] * 2, [head, body])
    np.testing.assert_allclose(body.numpy(), 1 - 0.5)
    np.testing.assert_allclose(head.numpy(), 1 - 5.0)


@pytest.mark.parametrize("horizon,steps", [(100, 100), (625, 400)])
def test_poly_schedule_values(horizon, steps):
    cfg = SGDConfig(learning_rate=2.5e-4, poly_power=0.9, schedule_horizon=horizon)
    opt = segmentor_optimizer(cfg, steps=steps)
    for step in (0, 1, steps // 2, steps - 1):
        expected = 2.5e-4 * (1 - step / horizon) ** 0.9
        assert lr_at(opt, step) == pytest.approx(expected, rel=1e-5)


def lr_at(optimizer, step):
    optimizer.iterations.assign(step)
    return float(optimizer.learning_rate)


def test_schedule_horizon_defaults_to_the_stage_length():
    opt = discriminator_optimizer(AdamConfig(learning_rate=1e-4, schedule_horizon=0), steps=50)
    assert lr_at(opt, 50) == pytest.approx(0.0, abs=1e-12)
    assert lr_at(opt, 25) == pytest.approx(1e-4 * 0.5 ** 0.9, rel=1e-5)
    assert (opt.beta_1, opt.beta_2) == (0.9, 0.99)
