"""fada_tf.models.recompute: recomputing the residual blocks gives the plain forward pass's
outputs, gradients and BatchNorm statistics."""

import numpy as np
import pytest
import tensorflow as tf

from fada_tf.adaptation import FADAModel
from fada_tf.config.schema import ModelConfig
from fada_tf.errors import FadaError
from fada_tf.models import build_discriminator, build_segmentor
from fada_tf.models.recompute import recomputing_forward, training_forward
from fada_tf.training.optimizers import TorchAdam, TorchSGD

K = 5
SIZE = (24, 40)


def segmentor(backbone="tiny", freeze_bn=False):
    return build_segmentor(ModelConfig(backbone=backbone, freeze_bn=freeze_bn, tiny_width=4), K,
                           seed=3)


def images(seed):
    return tf.constant(np.random.default_rng(seed).normal(size=(2, *SIZE, 3)), tf.float32)


def outputs_and_gradients(model, recompute):
    """Outputs, and gradients of a loss mixing features and logits, in a compiled function."""
    forward = training_forward(model, recompute)
    x = images(0)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            out = forward(x)
            loss = sum(tf.reduce_sum(out[key] * tf.random.stateless_normal(tf.shape(out[key]), (1, i)))
                       for i, key in enumerate(("features", "logits")))
        return out, tape.gradient(loss, model.trainable_variables)

    return step()


@pytest.mark.parametrize("backbone, freeze_bn", [("resnet50", True), ("tiny", False)])
def test_same_outputs_gradients_and_batch_norm_statistics(backbone, freeze_bn):
    plain, recomputed = segmentor(backbone, freeze_bn), segmentor(backbone, freeze_bn)
    expected_out, expected_grads = outputs_and_gradients(plain, recompute=False)
    out, grads = outputs_and_gradients(recomputed, recompute=True)
    for key in ("features", "logits"):
        np.testing.assert_allclose(out[key], expected_out[key], rtol=1e-5, atol=1e-5)
    assert len(grads) == len(expected_grads) == len(plain.trainable_variables)
    for variable, g, e in zip(plain.trainable_variables, grads, expected_grads):
        scale = float(tf.reduce_max(tf.abs(e))) or 1.0
        np.testing.assert_allclose(g / scale, e / scale, atol=1e-5, err_msg=variable.path)
    # Trainable BatchNorm: the running statistics moved once, as without recomputation.
    moved = 0
    for a, b, initial in zip(plain.non_trainable_variables, recomputed.non_trainable_variables,
                             segmentor(backbone, freeze_bn).non_trainable_variables):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6, err_msg=a.path)
        moved += not np.allclose(a, initial)
    assert moved > 0 if not freeze_bn else moved == 0


def test_a_fada_step_is_the_same_with_recomputation():
    results = []
    for recompute in (False, True):
        model = FADAModel(segmentor(), build_discriminator(32, K, channels=(16, 8), seed=1),
                          recompute=recompute)
        model.compile(segmentor_optimizer=TorchSGD(learning_rate=0.01, momentum=0.9),
                      discriminator_optimizer=TorchAdam(learning_rate=1e-3))
        labels = tf.constant(np.random.default_rng(2).integers(0, K, size=(2, *SIZE)), tf.int32)
        losses = tf.function(model.train_step_losses)(((images(3), labels), images(4)))
        results.append(({k: float(v) for k, v in losses.items()}, model.get_weights()))
    (losses, weights), (losses_r, weights_r) = results
    assert losses_r == pytest.approx(losses, rel=1e-5)
    for a, b in zip(weights, weights_r):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)


def test_a_backbone_without_residual_blocks_cannot_be_recomputed():
    vgg = build_segmentor(ModelConfig(backbone="vgg16", freeze_bn=False), K, seed=0)
    with pytest.raises(FadaError, match="vgg16 has none"):
        recomputing_forward(vgg)
