"""tf.distribute: mirrored replicas and multi-worker processes train exactly like one device.

With frozen BN, a global batch split over replicas must give the same losses, weights and
optimiser states as one device on the whole batch (losses are averaged over the global
batch, gradients all-reduced). Every run is a real ``fada-tf train`` process: mirrored on
two logical CPU devices, multi-worker as two worker processes on 127.0.0.1.
"""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from tests.support.run_state import assert_same_state, state_values

pytestmark = pytest.mark.slow

# Batch 2 per domain = one image per replica; the labels make the replicas' counts of
# labelled pixels differ, which the global average of eq. 3 must handle.
ADAPT_STEPS, D_LR = 3, 1e-3
SMALL = ["model.tiny_width=4", "model.freeze_bn=true", "model.discriminator_channels=[8,8]",
         "source.steps=2", f"adapt.steps={ADAPT_STEPS}", "source.batch_size=2", "adapt.batch_size=2",
         "run.log_every=1", "run.checkpoint_every=10", "data.synthetic.source_images=8",
         "data.synthetic.target_train_images=8", "data.synthetic.target_val_images=2",
         "data.eval_batch_size=2", f"adapt.discriminator_optimizer.learning_rate={D_LR}"]
# TF 2.21's oneDNN kernels corrupt the heap when two logical CPU devices run small convolutions
# concurrently (seen with tiny widths 4 and 8); every run here uses TensorFlow's own kernels.
ENV = dict(os.environ, TF_ENABLE_ONEDNN_OPTS="0")
# Run the CLI in a process whose CPU is split into two logical devices first.
TWO_CPUS = ("import sys, tensorflow as tf; cpu = tf.config.list_physical_devices('CPU')[0]; "
            "tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2); "
            "from fada_tf.cli.main import cli; cli(sys.argv[1:])")


def train_args(out, strategy):
    sets = [a for o in SMALL for a in ("--set", o)]
    return ["train", "--output", str(out), "--strategy", strategy, "--json", *sets]


def check(proc):
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def one_device(tmp_path_factory):
    out = tmp_path_factory.mktemp("one") / "run"
    check(subprocess.run([sys.executable, "-m", "fada_tf.cli", *train_args(out, "one")],
                         capture_output=True, text=True, env=ENV))
    return out


def test_mirrored_on_two_devices_equals_one_device(one_device, tmp_path):
    out = tmp_path / "run"
    result = check(subprocess.run([sys.executable, "-c", TWO_CPUS, *train_args(out, "mirrored")],
                                  capture_output=True, text=True, env=ENV))
    assert result["replicas"] == 2
    assert_same_state(state_values(out), state_values(one_device))


def test_trainable_batch_norm_is_synchronised_across_replicas(tmp_path):
    """The self-distillation student's trainable BN (TorchBatchNorm) uses the global batch's
    statistics, as the original's SyncBatchNorm: with one image per replica, per-replica
    statistics would differ from one device's."""
    trainable = ["--set", "model.freeze_bn=false", "--set", "run.stages=[source]"]
    one, two = tmp_path / "one", tmp_path / "two"
    check(subprocess.run([sys.executable, "-m", "fada_tf.cli", *train_args(one, "one"), *trainable],
                         capture_output=True, text=True, env=ENV))
    result = check(subprocess.run([sys.executable, "-c", TWO_CPUS, *train_args(two, "mirrored"), *trainable],
                                  capture_output=True, text=True, env=ENV))
    assert result["replicas"] == 2
    assert_same_state(state_values(two), state_values(one))


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_two_workers_stay_in_sync_and_equal_one_process(one_device, tmp_path):
    out = tmp_path / "run"
    workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
    procs = []
    for index in range(2):
        env = dict(ENV, TF_CONFIG=json.dumps({"cluster": {"worker": workers},
                                                      "task": {"type": "worker", "index": index}}))
        procs.append(subprocess.Popen([sys.executable, "-m", "fada_tf.cli", *train_args(out, "multi-worker")],
                                      env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    results = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=600)
        assert proc.returncode == 0, stderr[-3000:]
        results.append(json.loads(stdout))
    assert [r["replicas"] for r in results] == [2, 2]
    assert results[0]["run_dir"] == str(out) and results[1]["run_dir"] == f"{out}.worker-1"
    chief, other = state_values(out), state_values(tmp_path / "run.worker-1")
    assert_same_state(other, chief)                    # the workers are in sync
    assert_same_state(chief, state_values(one_device))  # and train like one process


def test_xla_compiled_step_trains_like_the_plain_one(one_device, tmp_path):
    out = tmp_path / "run"
    check(subprocess.run([sys.executable, "-m", "fada_tf.cli", *train_args(out, "one"), "--jit"],
                         capture_output=True, text=True, env=ENV))
    actual, expected = state_values(out), state_values(one_device)
    assert actual.keys() == expected.keys()
    for key, value in expected.items():
        difference = np.abs(actual[key] - value).max()
        if key.startswith(("segmentor/", "optimizer/")):
            # XLA fuses and reorders float operations: SGD follows within float noise.
            assert difference <= 1e-2 * np.abs(value).max() + 1e-6, key
        elif key.startswith("discriminator/"):
            # Adam normalises near-zero gradients, so float noise can move a weight by up to
            # lr per step either way; a wrong gradient would move it further.
            assert difference <= 2 * ADAPT_STEPS * D_LR, key


def test_mixed_float16_scales_both_losses_and_keeps_float32_weights(tmp_path):
    out = tmp_path / "run"
    check(subprocess.run([sys.executable, "-m", "fada_tf.cli", *train_args(out, "one"),
                          "--precision", "mixed_float16"], capture_output=True, text=True, env=ENV))
    values = state_values(out)
    scales = sorted(k.split("/")[0] for k in values if "dynamic_scale" in k)
    assert scales == ["discriminator_optimizer", "optimizer"]   # a loss scale per optimiser
    weights = {k: v for k, v in values.items() if k.startswith(("segmentor/", "discriminator/"))}
    assert weights and all(v.dtype == np.float32 and np.isfinite(v).all() for v in weights.values())
