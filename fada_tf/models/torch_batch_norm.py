"""Trainable BatchNorm with ``torch.nn.BatchNorm2d``'s semantics, for NHWC inputs.

Where the original trains BatchNorm (JDAI-CV/FADA ``core/models/feature_extractor.py``:
``resnet_feature_extractor`` uses ``nn.BatchNorm2d`` unless ``MODEL.FREEZE_BN``; its
self-distillation config ``deeplabv2_r101_tgt_self_distill.yaml`` sets ``FREEZE_BN: False``),
the layer is torch's ``nn.BatchNorm2d(eps=1e-5, momentum=0.1)``. Keras' ``BatchNormalization``
differs from it in two ways that change training:

* its ``momentum`` is the weight of the *running* value (torch's is the new batch's), and
* it updates ``moving_variance`` with the *biased* batch variance; torch normalises with the
  biased variance but updates ``running_var`` with the unbiased one, ``var · n / (n − 1)``.

Rule implemented here, with ``n = N·H·W`` values per channel:

* ``training=True``: ``y = (x − mean) / sqrt(var + ε) · γ + β`` with the batch mean and biased
  batch variance over N, H, W; then ``moving_mean = 0.9 · moving_mean + 0.1 · mean`` and
  ``moving_variance = 0.9 · moving_variance + 0.1 · var · n / (n − 1)``;
* ``training=False`` (or a layer set ``trainable = False``, the Keras convention): the same
  formula with the moving statistics.

Under a ``tf.distribute`` strategy with several replicas the statistics are those of the
*global* batch, as the original's ``SyncBatchNorm`` (``train_self_distill.py`` and
``train_adv.py`` convert trainable BN with ``convert_sync_batchnorm`` when they run on several
GPUs): each replica all-reduces (sums) its per-channel sums and its count, then its
per-channel sums of squared deviations from the global mean — two small all-reduces instead of
one of (sum, sum of squares, count), so that the variance does not suffer the cancellation of
``E[x²] − E[x]²`` (activations far from zero). ``ReplicaContext.all_reduce`` is
differentiable (its gradient is the all-reduced gradient), so the backward pass is the global
batch's too. Under mixed precision the statistics are computed in float32 (in the input's
dtype when that is float32 or float64) and the weights stay float32; the output has the input's
dtype.

The weights are created in the order ``gamma``, ``beta`` (trainable), ``moving_mean``,
``moving_variance`` (non-trainable), the names of Keras' BatchNormalization, so a torch state
dict's ``weight``, ``bias``, ``running_mean``, ``running_var`` map onto them one-to-one
(``fada_tf.convert.torch_names.BATCH_NORM``); ``num_batches_tracked`` has no counterpart (it only
matters to torch's ``momentum=None`` cumulative average).
"""

from __future__ import annotations

import contextlib
import threading

import keras
import tensorflow as tf
from keras import ops

_PAUSED = threading.local()


@contextlib.contextmanager
def statistics_updates_paused(paused: bool = True):
    """Within the block, ``TorchBatchNorm`` layers called in training normalise with the batch
    statistics but leave their running statistics unchanged (while a recomputed block runs
    again for its gradient: ``fada_tf.models.recompute``). Python-level, so it applies to what
    is traced or run inside the block."""
    before = getattr(_PAUSED, "value", False)
    _PAUSED.value = paused
    try:
        yield
    finally:
        _PAUSED.value = before


@keras.saving.register_keras_serializable(package="fada_tf")
class TorchBatchNorm(keras.layers.Layer):
    """``nn.BatchNorm2d(channels, eps=epsilon, momentum=momentum)`` over the last axis.

    Args:
        epsilon: added to the variance (torch's ``eps``, 1e-5).
        momentum: torch's momentum, the weight of the *new* batch in the running statistics.
    """

    def __init__(self, epsilon: float = 1e-5, momentum: float = 0.1, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)
        self.momentum = float(momentum)

    def build(self, input_shape):
        channels = input_shape[-1]
        # The weights keep the variable dtype (float32 under mixed precision: no autocast).
        # Under a strategy every replica computes the same global statistics; "mean"
        # aggregation lets the replicas assign the moving statistics in replica context.
        for name, value, trainable in (("gamma", 1.0, True), ("beta", 0.0, True),
                                       ("moving_mean", 0.0, False),
                                       ("moving_variance", 1.0, False)):
            setattr(self, name, self.add_weight(
                name=name, shape=(channels,), initializer=keras.initializers.Constant(value),
                trainable=trainable, autocast=False,
                aggregation="none" if trainable else "mean"))

    def call(self, inputs, training=None):
        # Statistics and normalisation in float32 (float64 inputs stay float64), the output in
        # the input's dtype, as Keras' BatchNormalization under mixed precision.
        x = ops.cast(inputs, keras.backend.result_type(inputs.dtype, "float32"))
        if training and self.trainable:
            mean, variance = self._batch_moments(x)
        else:
            mean, variance = self.moving_mean, self.moving_variance
        mean, variance = ops.cast(mean, x.dtype), ops.cast(variance, x.dtype)
        scale = ops.cast(self.gamma, x.dtype) * ops.rsqrt(variance + self.epsilon)
        return ops.cast((x - mean) * scale + ops.cast(self.beta, x.dtype), inputs.dtype)

    def _batch_moments(self, x):
        """Mean and biased variance over N, H, W of the (global) batch; updates the running
        statistics with torch's rule."""
        axes = list(range(len(x.shape) - 1))
        local_count = tf.cast(tf.reduce_prod(tf.shape(x)[:-1]), x.dtype)
        # One all-reduce for the per-channel sums and the count, one for the squared deviations.
        sums = _all_reduce_sum(ops.concatenate([ops.sum(x, axis=axes), local_count[None]], axis=0))
        total, count = sums[:-1], sums[-1]
        mean = total / count
        squares = _all_reduce_sum(ops.sum(ops.square(x - mean), axis=axes))
        variance = squares / count
        unbiased = squares / ops.maximum(count - 1.0, 1.0)
        if getattr(_PAUSED, "value", False):
            return mean, variance
        keep = 1.0 - self.momentum
        dtype = self.moving_mean.dtype
        self.moving_mean.assign(keep * self.moving_mean
                                + self.momentum * ops.cast(ops.stop_gradient(mean), dtype))
        self.moving_variance.assign(keep * self.moving_variance
                                    + self.momentum * ops.cast(ops.stop_gradient(unbiased), dtype))
        return mean, variance

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon, "momentum": self.momentum}


def _all_reduce_sum(value):
    """``value`` summed over the replicas of the current strategy (itself with one replica)."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return value
    return context.all_reduce(tf.distribute.ReduceOp.SUM, value)
