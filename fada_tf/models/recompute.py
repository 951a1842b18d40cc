"""Activation recomputation (gradient checkpointing) of a residual backbone, block by block.

A training step keeps every activation of its forward passes until the backward pass, and
the dilated ResNet's are most of a FADA step's memory. With recomputation only each residual
block's *input* is kept: the block's inner activations (its convolutions, norms, ReLUs and
shortcut) are computed again, from that input, when the backward pass reaches the
block (``tf.recompute_grad``), which costs about one more forward pass of the backbone. The
gradients are those of the plain forward pass.

The recomputing forward pass calls the segmentor's own layers (sub-models cut from its
functional graph share them), so weights, checkpoints and exports do not change. A
``TorchBatchNorm`` (trainable BatchNorm) updates its running statistics in the forward pass
only, not again while its block is recomputed (``fada_tf.models.torch_batch_norm``), so they
move exactly as without recomputation.
"""

from __future__ import annotations

from typing import Callable

import keras
import tensorflow as tf

from fada_tf.errors import FadaError
from fada_tf.models.frozen_norm_folding import fold_frozen_norms
from fada_tf.models.torch_batch_norm import statistics_updates_paused

BLOCK_END = ".out"   # the last layer of every ResNet block (fada_tf.models.resnet)


def recomputing_forward(segmentor: keras.Model, fold: bool = False) -> Callable:
    """``forward(images, training) -> {"features", "logits"}``: the segmentor's outputs, with
    the backbone's residual blocks recomputed during the backward pass (and their frozen
    BatchNorms folded into the convolutions with ``fold``)."""
    backbone = segmentor.get_layer("backbone")
    ends = [layer for layer in backbone.layers if layer.name.endswith(BLOCK_END)]
    if not ends:
        raise FadaError("run.recompute recomputes residual blocks: it needs a backbone made of "
                        "them (model.backbone resnet50, resnet101 or tiny; vgg16 has none)")
    prefix = ends[0].name[:-len(BLOCK_END)] + "."
    first = next(layer for layer in backbone.layers if layer.name.startswith(prefix)).input
    prepare = fold_frozen_norms if fold else (lambda model: model)
    stem = prepare(keras.Model(backbone.inputs, first, name="stem"))
    starts = [first] + [end.output for end in ends[:-1]]
    blocks = [prepare(keras.Model(start, end.output, name=end.name[:-len(BLOCK_END)]))
              for start, end in zip(starts, ends)]
    head = segmentor.get_layer("aspp")

    def forward(images, training=False):
        x = stem(images, training=training)
        for block in blocks:
            x = _recomputed(block, x, training)
        return {"features": x, "logits": head(x, training=training)}

    return forward


def _recomputed(block: keras.Model, x, training):
    """``block(x)`` whose inner activations are recomputed in the backward pass; the second
    call of ``run`` (the recomputation) leaves BatchNorm's running statistics alone."""
    calls = []

    def run(inputs):
        with statistics_updates_paused(bool(calls)):
            calls.append(None)
            return block(inputs, training=training)

    return tf.recompute_grad(run)(x)


def training_forward(segmentor: keras.Model, recompute: bool) -> Callable:
    """``forward(images) -> {"features", "logits"}``: the segmentor in training mode, with its
    residual blocks recomputed in the backward pass when ``recompute``, and its frozen
    BatchNorms folded into their convolutions when ``folds_frozen_norms(segmentor)``."""
    fold = folds_frozen_norms(segmentor)
    if recompute:
        recomputing = recomputing_forward(segmentor, fold)
        return lambda images: recomputing(images, training=True)
    backbone = segmentor.get_layer("backbone")
    backbone = fold_frozen_norms(backbone) if fold else backbone
    head = segmentor.get_layer("aspp")

    def forward(images):
        features = backbone(images, training=True)
        return {"features": features, "logits": head(features, training=True)}

    return forward


def folds_frozen_norms(segmentor: keras.Model) -> bool:
    """Whether training folds the frozen BatchNorms (``fada_tf.models.frozen_norm_folding``):
    when the segmentor computes in 16 bits, where each layer makes a 16-bit copy of its kernel
    anyway and the folded copy replaces it (measured 6 % faster in bfloat16). In float32 the
    folded kernels would be an extra 43 M values kept for the backward pass (+185 MB peak for
    ResNet-101) for no speed (docs/performance.md)."""
    return segmentor.dtype_policy.compute_dtype != "float32"
