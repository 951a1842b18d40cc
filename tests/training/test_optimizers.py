"""The segmentor's SGD follows torch.optim.SGD's rule, the discriminator's Adam torch.optim.Adam's;
poly schedules follow the 'poly' policy."""

import keras
import numpy as np
import pytest

from fada_tf.config.schema import AdamConfig, SGDConfig
from fada_tf.training.optimizers import (TorchAdam, TorchSGD, discriminator_optimizer,
                                         poly_schedule, segmentor_optimizer)


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


# --- TorchAdam ---------------------------------------------------------------------------------

def torch_adam_run(w0, grads, lrs, betas):
    """torch.optim.Adam on one parameter, its lr overwritten before every step as the original
    does (train_adv.py sets ``param_groups[i]['lr']`` each iteration)."""
    import torch

    param = torch.nn.Parameter(torch.tensor(w0))
    adam = torch.optim.Adam([param], lr=lrs[0], betas=betas)
    for g, lr in zip(grads, lrs):
        for group in adam.param_groups:
            group["lr"] = lr
        param.grad = torch.tensor(g)
        adam.step()
    state = adam.state[param]
    return param.detach().numpy(), state["exp_avg"].numpy(), state["exp_avg_sq"].numpy()


def adam_case(steps=8, shape=(4, 5)):
    """Random gradients spanning many magnitudes, some near torch's epsilon (where Keras'
    "epsilon hat" differs most)."""
    rng = np.random.default_rng(3)
    w0 = rng.normal(size=shape).astype(np.float32)
    scales = 10.0 ** rng.uniform(-9, -1, size=shape)
    grads = [(rng.normal(size=shape) * scales).astype(np.float32) for _ in range(steps)]
    schedule = poly_schedule(1e-2, 0.9, horizon=10)
    return w0, grads, schedule, [float(schedule(i)) for i in range(steps)]


def test_torch_adam_matches_torch_under_a_poly_schedule():
    w0, grads, schedule, lrs = adam_case()
    var = keras.Variable(w0)
    opt = TorchAdam(learning_rate=schedule, beta_1=0.9, beta_2=0.99)
    for g in grads:
        opt.apply([g], [var])
    expected_w, expected_m, expected_v = torch_adam_run(w0, grads, lrs, (0.9, 0.99))
    np.testing.assert_allclose(var.numpy(), expected_w, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(opt._momentums[0].numpy(), expected_m, rtol=1e-5, atol=1e-12)
    np.testing.assert_allclose(opt._velocities[0].numpy(), expected_v, rtol=1e-5, atol=1e-20)
    # Keras' Adam ("epsilon hat", 1e-7) moves the small-gradient elements differently.
    other = keras.Variable(w0)
    keras_adam = keras.optimizers.Adam(learning_rate=schedule, beta_1=0.9, beta_2=0.99)
    for g in grads:
        keras_adam.apply([g], [other])
    difference = np.abs((other.numpy() - w0) - (expected_w - w0)).max()
    assert difference > 0.1 * np.abs(expected_w - w0).max()


def test_discriminator_optimizer_is_torch_adam():
    opt = discriminator_optimizer(AdamConfig(learning_rate=1e-4, schedule_horizon=100), steps=10)
    assert isinstance(opt, TorchAdam)
    assert (opt.beta_1, opt.beta_2, opt.epsilon) == (0.9, 0.99, 1e-8)


def test_torch_adam_serialises():
    opt = TorchAdam(learning_rate=poly_schedule(1e-3, 0.9, 50), beta_1=0.8, beta_2=0.95, epsilon=1e-6)
    clone = keras.optimizers.deserialize(keras.optimizers.serialize(opt))
    assert isinstance(clone, TorchAdam)
    assert (clone.beta_1, clone.beta_2, clone.epsilon) == (0.8, 0.95, 1e-6)
    clone.iterations.assign(10)
    opt.iterations.assign(10)
    assert float(clone.learning_rate) == pytest.approx(float(opt.learning_rate))


def test_torch_adam_under_loss_scaling_equals_plain():
    """Wrapped in LossScaleOptimizer (mixed float16), scaled gradients give the same update."""
    w0, grads, schedule, lrs = adam_case(steps=3)
    plain_var, scaled_var = keras.Variable(w0), keras.Variable(w0)
    plain = TorchAdam(learning_rate=schedule, beta_1=0.9, beta_2=0.99)
    scaled = keras.optimizers.LossScaleOptimizer(TorchAdam(learning_rate=schedule, beta_1=0.9, beta_2=0.99))
    scaled.build([scaled_var])
    for g in grads:
        plain.apply([g], [plain_var])
        scaled.apply([g * float(scaled.dynamic_scale)], [scaled_var])
    np.testing.assert_allclose(scaled_var.numpy(), plain_var.numpy(), rtol=1e-6, atol=1e-8)
    assert int(scaled.iterations.numpy()) == 3


def test_torch_adam_state_is_restored_by_a_checkpoint(tmp_path):
    """Iteration, m and v come back: continuing after a restore equals not stopping."""
    import tensorflow as tf

    w0, grads, schedule, lrs = adam_case(steps=6)

    def fresh():
        var = keras.Variable(w0)
        opt = TorchAdam(learning_rate=poly_schedule(1e-2, 0.9, 10), beta_1=0.9, beta_2=0.99)
        opt.build([var])
        return var, opt

    var, opt = fresh()
    for g in grads[:3]:
        opt.apply([g], [var])
    path = tf.train.Checkpoint(var=var, optimizer=opt).write(str(tmp_path / "ckpt"))
    for g in grads[3:]:
        opt.apply([g], [var])

    restored_var, restored_opt = fresh()
    status = tf.train.Checkpoint(var=restored_var, optimizer=restored_opt).read(path)
    status.assert_existing_objects_matched()
    assert int(restored_opt.iterations.numpy()) == 3
    for g in grads[3:]:
        restored_opt.apply([g], [restored_var])
    np.testing.assert_array_equal(restored_var.numpy(), var.numpy())
    for a, b in zip(restored_opt.variables, opt.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
