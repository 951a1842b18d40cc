"""TorchBatchNorm behaves as ``torch.nn.BatchNorm2d`` (train and eval mode, gradients, running
statistics) and, under ``tf.distribute.MirroredStrategy``, as one device on the global batch
(the original's ``SyncBatchNorm``).

The torch side runs in float64 on the same data (NCHW), so the differences measured are
fada-tf's float32 rounding.
"""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
import torch

from fada_tf.convert.torch_names import BATCH_NORM, _layer_keys
from fada_tf.models.resnet import batch_norm_layer
from fada_tf.models.tiny import build_tiny_backbone
from fada_tf.models.torch_batch_norm import TorchBatchNorm

C = 6


def batches(count, shape=(3, 5, 7, C), seed=0):
    """NHWC batches with per-channel offsets and scales, so the statistics are non-trivial."""
    rng = np.random.default_rng(seed)
    offsets, scales = rng.normal(0, 2, C), rng.uniform(0.2, 3.0, C)
    return [(rng.normal(size=shape) * scales + offsets).astype(np.float32) for _ in range(count)]


def random_affine(seed=1):
    rng = np.random.default_rng(seed)
    return {"gamma": rng.uniform(0.5, 1.5, C), "beta": rng.normal(0, 0.3, C),
            "moving_mean": rng.normal(0, 1, C), "moving_variance": rng.uniform(0.5, 2.0, C)}


def pair(values):
    """A built TorchBatchNorm and an nn.BatchNorm2d (float64) with the same weights."""
    layer = TorchBatchNorm()
    layer.build((None, None, None, C))
    reference = torch.nn.BatchNorm2d(C).double()
    with torch.no_grad():
        for keras_name, torch_name in BATCH_NORM.items():
            getattr(layer, keras_name).assign(values[keras_name].astype(np.float32))
            getattr(reference, torch_name).copy_(torch.tensor(values[keras_name]))
    return layer, reference


def nchw(x):
    return torch.tensor(np.transpose(x, (0, 3, 1, 2)), dtype=torch.float64, requires_grad=True)


def nhwc(t):
    return np.transpose(t.detach().numpy(), (0, 2, 3, 1))


def test_weights_names_order_and_epsilon():
    layer = TorchBatchNorm()
    layer.build((None, 4, 4, C))
    assert [w.path.split("/")[-1] for w in layer.weights] == list(BATCH_NORM)
    assert [w.path.split("/")[-1] for w in layer.trainable_weights] == ["gamma", "beta"]
    assert layer.epsilon == 1e-5 and layer.momentum == 0.1
    assert batch_norm_layer(False) is TorchBatchNorm
    assert {key: v.path.split("/")[-1] for key, v in _layer_keys(layer, "bn1").items()} == {
        f"bn1.{t}": k for k, t in BATCH_NORM.items()}
    clone = TorchBatchNorm.from_config(TorchBatchNorm(epsilon=1e-3, name="bn").get_config())
    assert (clone.epsilon, clone.momentum, clone.name) == (1e-3, 0.1, "bn")


@pytest.mark.parametrize("training", [True, False])
def test_forward_and_gradients_match_torch(training):
    layer, reference = pair(random_affine())
    reference.train(training)
    x = batches(1)[0]
    upstream = np.random.default_rng(5).normal(size=x.shape).astype(np.float32)

    x_tf = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x_tf)
        y = layer(x_tf, training=training)
        loss = tf.reduce_sum(y * upstream)
    grad_x, grad_gamma, grad_beta = tape.gradient(loss, [x_tf, layer.gamma, layer.beta])

    x_torch = nchw(x)
    y_torch = reference(x_torch)
    (y_torch * torch.tensor(np.transpose(upstream, (0, 3, 1, 2)), dtype=torch.float64)).sum().backward()

    np.testing.assert_allclose(y.numpy(), nhwc(y_torch), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(grad_x.numpy(), nhwc(x_torch.grad), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(grad_gamma.numpy(), reference.weight.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(grad_beta.numpy(), reference.bias.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_running_statistics_follow_torch_over_several_steps():
    """momentum 0.1 on the new batch, unbiased variance (n/(n-1)) in running_var."""
    values = random_affine()
    layer, reference = pair(values)
    reference.train()
    for x in batches(4):
        layer(tf.constant(x), training=True)
        reference(nchw(x))
    np.testing.assert_allclose(layer.moving_mean.numpy(), reference.running_mean.numpy(),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer.moving_variance.numpy(), reference.running_var.numpy(), rtol=1e-5)
    # Keras' BatchNormalization with the "translated" torch defaults updates running_var with
    # the biased variance: measurably different with n = 105 values per channel.
    keras_bn = keras.layers.BatchNormalization(epsilon=1e-5, momentum=0.9)
    keras_bn.build((None, None, None, C))
    for name in BATCH_NORM:
        getattr(keras_bn, name).assign(values[name].astype(np.float32))
    for x in batches(4):
        keras_bn(tf.constant(x), training=True)
    assert not np.allclose(keras_bn.moving_variance.numpy(), reference.running_var.numpy(), rtol=1e-3)


def test_inference_and_frozen_layers_use_running_statistics():
    layer, _ = pair(random_affine())
    x = batches(1)[0]
    before = [w.numpy().copy() for w in layer.weights]
    inference = layer(x, training=False).numpy()
    layer.trainable = False     # the Keras convention: a non-trainable BN runs in inference mode
    np.testing.assert_array_equal(layer(x, training=True).numpy(), inference)
    for w, b in zip(layer.weights, before):
        np.testing.assert_array_equal(w.numpy(), b)


def test_mixed_float16_normalises_in_float32():
    """Inputs far from zero (mean 300, std 1): float16 moments would lose the variance, and
    float16 arithmetic on (x - mean) would quantise it; only the output is rounded to float16
    (at most half a float16 step, 1e-3 for |y| < 4)."""
    try:
        keras.config.set_dtype_policy("mixed_float16")
        layer = TorchBatchNorm()
        layer.build((None, None, None, C))
    finally:
        keras.config.set_dtype_policy("float32")
    rng = np.random.default_rng(2)
    x = (300.0 + rng.normal(size=(2, 8, 8, C))).astype(np.float16)
    y = layer(tf.constant(x), training=True)
    assert y.dtype == tf.float16 and layer.moving_mean.dtype == "float32"
    reference = TorchBatchNorm()
    reference.build((None, None, None, C))
    expected = reference(tf.constant(x.astype(np.float32)), training=True)
    np.testing.assert_allclose(y.numpy().astype(np.float32), expected.numpy(), atol=2e-3)
    np.testing.assert_allclose(layer.moving_variance.numpy(), reference.moving_variance.numpy(), rtol=1e-3)


def test_tiny_backbone_with_trainable_bn_uses_it():
    backbone = build_tiny_backbone(4, freeze_bn=False)
    assert any(isinstance(layer, TorchBatchNorm) for layer in backbone.layers)


# --- synchronisation over replicas -------------------------------------------------------------

# Two logical CPUs; replica r gets rows [2r, 2r + 2) of a global batch of 4 whose halves have
# very different statistics (so per-replica statistics would be far from the global ones).
SYNC_SCRIPT = r"""
import json, sys
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from fada_tf.models.torch_batch_norm import TorchBatchNorm

rng = np.random.default_rng(0)
C = 5
x = rng.normal(size=(4, 6, 7, C)).astype(np.float32)
x[2:] = x[2:] * 3.0 + 4.0
upstream = rng.normal(size=x.shape).astype(np.float32)
gamma, beta = rng.uniform(0.5, 1.5, C).astype(np.float32), rng.normal(size=C).astype(np.float32)


def make():
    layer = TorchBatchNorm()
    layer.build((None, None, None, C))
    layer.gamma.assign(gamma)
    layer.beta.assign(beta)
    return layer


def step(layer, x, upstream):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
        loss = tf.reduce_sum(y * upstream)
    grad_x, grad_gamma, grad_beta = tape.gradient(loss, [x, layer.gamma, layer.beta])
    return y, grad_x, grad_gamma, grad_beta


one = make()
expected = [t.numpy() for t in tf.function(lambda: step(one, tf.constant(x), tf.constant(upstream)))()]
expected += [one.moving_mean.numpy(), one.moving_variance.numpy()]

strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
with strategy.scope():
    mirrored = make()
shard = lambda array: strategy.experimental_distribute_values_from_function(
    lambda ctx: tf.constant(array[2 * ctx.replica_id_in_sync_group:2 * ctx.replica_id_in_sync_group + 2]))
outputs = tf.function(lambda a, b: strategy.run(lambda u, v: step(mirrored, u, v), args=(a, b)))(
    shard(x), shard(upstream))
local = [[t.numpy() for t in strategy.experimental_local_results(o)] for o in outputs]
actual = [np.concatenate(local[0]), np.concatenate(local[1]), sum(local[2]), sum(local[3]),
          mirrored.moving_mean.numpy(), mirrored.moving_variance.numpy()]
names = ["y", "grad_x", "grad_gamma", "grad_beta", "moving_mean", "moving_variance"]
errors = {n: float(np.abs(a - e).max() / np.abs(e).max()) for n, a, e in zip(names, actual, expected)}
# The first replica's own statistics, to show that synchronisation matters here.
own = x[:2].reshape(-1, C)
errors["local_mean_vs_global"] = float(np.abs(own.mean(0) - x.reshape(-1, C).mean(0)).max())
print(json.dumps({"replicas": strategy.num_replicas_in_sync, "errors": errors}))
"""


@pytest.mark.slow
def test_mirrored_replicas_normalise_with_the_global_batch():
    env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS="0")  # see tests/training/test_distribution.py
    proc = subprocess.run([sys.executable, "-c", SYNC_SCRIPT], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    errors = result["errors"]
    assert errors.pop("local_mean_vs_global") > 1.0
    for name, error in errors.items():
        assert error < 1e-5, (name, error)
