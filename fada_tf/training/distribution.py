"""The ``tf.distribute`` strategy of a run (``run.strategy`` / ``--strategy``).

* ``one``: ``OneDeviceStrategy`` on the first GPU, else the CPU.
* ``mirrored``: ``MirroredStrategy`` over the local GPUs (with none, over the logical CPU
  devices, which is how the tests run two replicas on one CPU).
* ``multi-worker``: ``MultiWorkerMirroredStrategy`` configured from ``TF_CONFIG``.
* ``auto``: multi-worker when ``TF_CONFIG`` names more than one worker, mirrored with more
  than one GPU, else one device.

A strategy must be made before any other TensorFlow work in the process (multi-worker
collectives are configured at start-up), so the CLI makes it first.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import tensorflow as tf

from fada_tf.errors import FadaError


def make_strategy(name: str) -> tf.distribute.Strategy:
    if name == "auto":
        name = _auto()
    if name == "one":
        gpus = tf.config.list_logical_devices("GPU")
        return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")
    if name == "mirrored":
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    if name == "multi-worker":
        _check_tf_config()
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise FadaError(f"unknown strategy {name!r}; choose auto, one, mirrored or multi-worker")


def _auto() -> str:
    if len(_tf_config().get("cluster", {}).get("worker", [])) > 1:
        return "multi-worker"
    return "mirrored" if len(tf.config.list_logical_devices("GPU")) > 1 else "one"


def _tf_config() -> dict:
    text = os.environ.get("TF_CONFIG", "")
    if not text:
        return {}
    try:
        config = json.loads(text)
    except json.JSONDecodeError as err:
        raise FadaError(f"TF_CONFIG is not valid JSON: {err}") from None
    if not isinstance(config, dict):
        raise FadaError("TF_CONFIG must be a JSON object with 'cluster' and 'task'")
    return config


def _check_tf_config() -> None:
    config = _tf_config()
    workers = config.get("cluster", {}).get("worker")
    task = config.get("task", {})
    if not workers:
        raise FadaError("--strategy multi-worker needs TF_CONFIG with cluster.worker, e.g. "
                        '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
                        '"task": {"type": "worker", "index": 0}}')
    if task.get("type") != "worker" or not 0 <= task.get("index", -1) < len(workers):
        raise FadaError(f"TF_CONFIG task {task} must be {{'type': 'worker', 'index': i}} with "
                        f"0 <= i < {len(workers)}")


def worker_path(strategy: tf.distribute.Strategy, path: str | Path) -> Path:
    """The run directory this process writes: ``path`` for the chief (worker 0, and every
    single-process run), ``path.worker-<i>`` for the other workers of a multi-worker run, so
    that no two processes write the same files; each can resume from its own directory."""
    if strategy.extended.should_checkpoint:
        return Path(path)
    return Path(f"{path}.worker-{strategy.cluster_resolver.task_id}")
