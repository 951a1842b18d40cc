"""Frozen BatchNorm folded into the convolution before it, for the training passes.

A frozen BatchNorm after a bias-free convolution computes ``conv(x, W)·s + t`` with the
per-channel ``s = γ/√var`` and ``t = β − mean·s`` (``fada_tf.models.frozen_batch_norm``).
That is ``conv(x, W·s) + t``: the same function of ``x`` and ``W``, so the same gradients
(∂/∂W of ``conv(x, W·s)`` is ``s`` times that of ``conv(x, W)``, which the chain rule through
``W·s`` gives). The folded form scales the kernel (a weight-sized product) instead of every
activation, and adds ``t`` as a bias that TensorFlow can fuse into the convolution with the
ReLU that follows: a FADA step of DeepLabV2-ResNet-101 in bfloat16 measured 6 % faster
(docs/performance.md). Training uses it in 16-bit precision only
(``fada_tf.models.recompute.folds_frozen_norms``).

``fold_frozen_norms`` rebuilds a functional model's graph with the same layer objects, each
(convolution, frozen BatchNorm) pair replaced by a ``FrozenNormConv`` that reads both layers'
variables and the BatchNorm by an identity: weights, checkpoints and exports stay those of
the original model, which inference keeps using.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from fada_tf.models.frozen_batch_norm import FrozenBatchNorm


class FrozenNormConv(keras.layers.Layer):
    """``conv(x, W·s) + t`` from a bias-free ``Conv2D`` and the ``FrozenBatchNorm`` after it.

    Owns no variables: it reads the convolution's kernel and the BatchNorm's statistics, in
    float32 (no autocast), and casts the folded kernel and bias to the input's dtype.
    """

    def __init__(self, conv: keras.layers.Conv2D, norm: FrozenBatchNorm, **kwargs):
        super().__init__(name=f"{conv.name}_folded", autocast=False, **kwargs)
        self.conv, self.norm = conv, norm

    def call(self, inputs):
        scale = self.norm.gamma * tf.math.rsqrt(self.norm.moving_variance)
        shift = self.norm.beta - self.norm.moving_mean * scale
        kernel = tf.cast(self.conv.kernel * scale, inputs.dtype)
        return tf.nn.bias_add(self.conv.convolution_op(inputs, kernel), tf.cast(shift, inputs.dtype))


def fold_frozen_norms(model: keras.Model) -> keras.Model:
    """``model``'s graph with every frozen BatchNorm that directly follows a bias-free
    ``Conv2D`` folded into it; ``model`` itself when it has none."""
    producers = {id(layer.output): layer for layer in model.layers}
    norm_after = {}   # id(conv) -> the frozen BatchNorm folded into it
    for norm in model.layers:
        if isinstance(norm, FrozenBatchNorm):
            conv = producers.get(id(norm.input))
            if isinstance(conv, keras.layers.Conv2D) and not conv.use_bias and _only_consumer(
                    model, conv, norm):
                norm_after[id(conv)] = norm
    if not norm_after:
        return model
    folded_norms = {id(norm) for norm in norm_after.values()}

    def clone(layer):
        if id(layer) in norm_after:
            return FrozenNormConv(layer, norm_after[id(layer)])
        if id(layer) in folded_norms:
            return keras.layers.Identity(name=f"{layer.name}_folded")
        return layer

    return keras.models.clone_model(model, clone_function=clone)


def _only_consumer(model: keras.Model, conv, norm) -> bool:
    """Whether ``norm`` is the only layer of ``model`` that reads ``conv``'s output."""
    return not any(layer is not norm and not isinstance(layer, keras.layers.InputLayer)
                   and any(tensor is conv.output for tensor in keras.tree.flatten(layer.input))
                   for layer in model.layers)
