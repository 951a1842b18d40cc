"""``fada_tf.models.frozen_norm_folding``: ``conv(x, W·s) + t`` is the frozen BatchNorm of the
convolution, ``conv(x, W)·s + t``, in value and in every gradient, and only sole-consumer
pairs are folded."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from fada_tf.config.schema import ModelConfig
from fada_tf.models import build_segmentor
from fada_tf.models.frozen_batch_norm import FrozenBatchNorm
from fada_tf.models.frozen_norm_folding import FrozenNormConv, fold_frozen_norms
from fada_tf.models.recompute import folds_frozen_norms, recomputing_forward
from fada_tf.training.precision import set_precision


def randomise_statistics(model, seed=0):
    """BatchNorm statistics far from the identity (γ, var around 1, β, mean around 0)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, FrozenBatchNorm):
            channels = layer.gamma.shape
            layer.gamma.assign(rng.uniform(0.5, 1.5, channels))
            layer.moving_variance.assign(rng.uniform(0.5, 2.0, channels))
            layer.beta.assign(rng.normal(0.0, 0.1, channels))
            layer.moving_mean.assign(rng.normal(0.0, 0.1, channels))


def outputs_and_gradients(forward, variables, images):
    with tf.GradientTape() as tape:
        logits = forward(images)["logits"]
        loss = tf.reduce_sum(logits ** 2)
    return logits, tape.gradient(loss, variables)


def folded_forward(segmentor, recompute):
    """The segmentor's training pass with its frozen BatchNorms folded, plain or recomputed."""
    if recompute:
        forward = recomputing_forward(segmentor, fold=True)
        return lambda images: forward(images, training=True)
    backbone = fold_frozen_norms(segmentor.get_layer("backbone"))
    return lambda images: {"logits": segmentor.get_layer("aspp")(backbone(images, training=True))}


@pytest.mark.parametrize("recompute", [False, True])
def test_folded_training_pass_equals_the_segmentor(recompute):
    segmentor = build_segmentor(ModelConfig(backbone="resnet50", freeze_bn=True), 5)
    randomise_statistics(segmentor.get_layer("backbone"))
    images = tf.random.stateless_normal((1, 64, 96, 3), seed=(1, 2))
    variables = segmentor.trainable_variables
    folded, folded_gradients = outputs_and_gradients(folded_forward(segmentor, recompute),
                                                     variables, images)
    plain, plain_gradients = outputs_and_gradients(lambda x: segmentor(x, training=True),
                                                   variables, images)
    np.testing.assert_allclose(folded, plain, rtol=1e-4, atol=1e-5 * float(tf.reduce_max(abs(plain))))
    for got, expected in zip(folded_gradients, plain_gradients):
        scale = float(tf.reduce_max(tf.abs(expected)))
        np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-5 * scale)


def test_every_conv_norm_pair_of_a_resnet_is_folded_and_no_variable_is_added():
    backbone = build_segmentor(ModelConfig(backbone="resnet50", freeze_bn=True), 5).get_layer("backbone")
    folded = fold_frozen_norms(backbone)
    norms = [layer for layer in backbone.layers if isinstance(layer, FrozenBatchNorm)]
    convs = [layer for layer in folded.layers if isinstance(layer, FrozenNormConv)]
    assert len(convs) == len(norms) == 53
    assert not any(isinstance(layer, FrozenBatchNorm) for layer in folded.layers)
    assert {id(v) for v in folded.weights} == {id(v) for v in backbone.weights}


def test_nothing_to_fold_returns_the_model_and_shared_outputs_stay_unfolded():
    tiny = build_segmentor(ModelConfig(backbone="tiny"), 5).get_layer("backbone")
    assert fold_frozen_norms(tiny) is tiny        # trainable BatchNorm is not folded

    image = keras.Input((8, 8, 3))
    convolved = keras.layers.Conv2D(4, 3, padding="same", use_bias=False, name="conv")(image)
    normed = FrozenBatchNorm(name="bn")(convolved)
    also_read = keras.layers.Add()([normed, convolved])   # the conv's output has two readers
    first = keras.layers.Conv2D(4, 1, use_bias=False, name="conv2")(also_read)
    out = FrozenBatchNorm(name="bn2")(first)
    model = keras.Model(image, out)
    randomise_statistics(model, seed=3)
    folded = fold_frozen_norms(model)
    assert [layer.name for layer in folded.layers if isinstance(layer, FrozenNormConv)] == \
        ["conv2_folded"]
    x = tf.random.stateless_normal((2, 8, 8, 3), seed=(5, 6))
    np.testing.assert_allclose(folded(x), model(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("precision, folds", [("float32", False), ("mixed_bfloat16", True),
                                              ("mixed_float16", True)])
def test_training_folds_in_16_bit_precision_only(precision, folds):
    set_precision(precision)
    try:
        segmentor = build_segmentor(ModelConfig(backbone="tiny", tiny_width=2), 3)
    finally:
        set_precision("float32")
    assert folds_frozen_norms(segmentor) is folds


def flat(gradients):
    return tf.concat([tf.reshape(tf.cast(g, tf.float32), [-1]) for g in gradients], 0)


def cosine(a, b):
    return float(tf.reduce_sum(a * b) / (tf.norm(a) * tf.norm(b)))


def test_folded_pass_in_bfloat16_is_as_close_to_float32_as_the_plain_one():
    """Under mixed_bfloat16 (where training folds) the folded kernel is rounded to bfloat16
    once, instead of the convolution's output being scaled in bfloat16: against the float32
    pass of the same weights, the folded outputs and gradients are no further off than the
    plain bfloat16 pass's."""
    reference = build_segmentor(ModelConfig(backbone="resnet50", freeze_bn=True), 5)
    randomise_statistics(reference.get_layer("backbone"))
    images = tf.random.stateless_normal((1, 32, 64, 3), seed=(1, 2))
    expected, expected_gradients = outputs_and_gradients(
        lambda x: reference(x, training=True), reference.trainable_variables, images)
    set_precision("mixed_bfloat16")
    try:
        segmentor = build_segmentor(ModelConfig(backbone="resnet50", freeze_bn=True), 5)
        segmentor.set_weights(reference.get_weights())
        variables = segmentor.trainable_variables
        folded, folded_gradients = outputs_and_gradients(folded_forward(segmentor, False),
                                                         variables, images)
        plain, plain_gradients = outputs_and_gradients(lambda x: segmentor(x, training=True),
                                                       variables, images)
    finally:
        set_precision("float32")
    assert folded.dtype == plain.dtype == tf.bfloat16
    error = {name: float(tf.reduce_max(tf.abs(tf.cast(value, tf.float32) - expected)))
             for name, value in (("folded", folded), ("plain", plain))}
    assert 0 < error["folded"] < 2 * error["plain"]
    reference_direction = flat(expected_gradients)
    misalignment = {name: 1 - cosine(flat(gradients), reference_direction)
                    for name, gradients in (("folded", folded_gradients), ("plain", plain_gradients))}
    assert misalignment["folded"] < 2 * misalignment["plain"] + 1e-5
