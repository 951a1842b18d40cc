"""fada-tf's training iterations move every weight as the original's iterations do.

The reference is ``tests.support.torch_reference`` (plain torch.nn, written from JDAI-CV/FADA):
``adaptation_iteration`` is train_adv.py's loop body (lines 148-209: poly learning rates set
on every param group, L_seg backward, soft labels, λ·L_adv backward, SGD steps of F and C, D's
gradients zeroed, 0.5·L_D,src and 0.5·L_D,tgt backward, Adam step of D) and
``self_distill_iteration`` train_self_distill.py's (lines 124-140: poly learning rates, plain
cross-entropy, SGD steps; trainable ``nn.BatchNorm2d`` in train mode), with the original's
optimisers (train_adv.py:79-86: ``SGD(momentum 0.9, weight_decay 5e-4)`` on F, the same at 10×
the learning rate on C, ``Adam(betas (0.9, 0.99))`` on D) and learning rates.

Both frameworks start from the same weights — torch's state dicts moved into fada-tf's Keras
models through the converter's key maps (``segmentor_keys``/``discriminator_keys`` +
``transfer``) — and see the same small batch. After ``ITERATIONS`` iterations the change Δ of
every variable of the key maps (BatchNorm statistics included) must satisfy
``||Δ_keras − Δ_torch|| ≤ 1e-2 · ||Δ_torch||``; two iterations exercise the optimisers' state
(momentum, Adam moments) and a learning rate that changes between them (horizon 10).

Both sides run in **float64** (Keras dtype policy "float64"; fada-tf's losses still take the
logits to float32). In float32 the comparison measures rounding more than rules; measured on
this batch: (1) at the original's learning rates an update is a few float32 ulps of its weight
(Δ/w ≈ 6e-7 for layer4.0.conv3), and torch float32 differed from torch float64 by up to 10 %
of an update from that alone; (2) with the kernels scaled by 0.1 to lift the updates above
float32 resolution, fada-tf float32 still differed from torch float64 by 0.2-1.3 % in the
early layers after one iteration, depending on the seed (the losses agreed to 3e-8, the
L_adv part of the gradient to 3e-6; the likely cause is ReLUs whose input lies within float32
noise of 0), and torch float32 was 0.6 % off torch float64 in another seed; (3) Adam divides
each gradient element by its own magnitude, so an element whose gradient is near zero (D's
output biases: at near-uniform outputs and soft labels their gradient nearly cancels) moves by
an amount set by float32 noise (up to 10 % of ``cls2.bias``'s update). The float32 rules of
TorchSGD, TorchAdam and TorchBatchNorm are checked against torch in
tests/training/test_optimizers.py and tests/models/test_torch_batch_norm.py.

Deliberate defects must break the bound, so these tests can fail: in the adaptation Keras'
Adam ("epsilon hat" 1e-7, the previous discriminator optimiser: 6 % on D.0's update; a
segmentor optimiser without the head's 10×, not run here, gave 90 % on the head); in the
self-distillation the
previous trainable BN, Keras' BatchNormalization(momentum=0.9, epsilon=1e-5), whose running
variance takes the biased batch variance (1.3 % on layer4's running_var, n = 128 values per
channel: 1/(n − 1) = 0.8 % of the variance; deterministic in float64, but only 1.3× the bound).
"""

import contextlib
import functools

import keras
import numpy as np
import pytest
import tensorflow as tf
import torch
from torch import nn

import fada_tf.models.resnet as resnet
from fada_tf.adaptation import FADAModel, SourceOnlyModel, encoding_channels
from fada_tf.config.schema import AdamConfig, ModelConfig, SGDConfig
from fada_tf.convert.torch_names import discriminator_keys, segmentor_keys
from fada_tf.convert.transfer import to_keras, transfer
from fada_tf.models import build_discriminator, build_segmentor
from fada_tf.training.optimizers import discriminator_optimizer, segmentor_optimizer
from tests.support.torch_reference import (AsppClassifierV2, DilatedResNet, FeatureExtractor,
                                           FrozenBatchNorm2d, PixelDiscriminator,
                                           adaptation_iteration, original_optimizers,
                                           self_distill_iteration)

pytestmark = pytest.mark.slow

K, SIZE, BACKBONE, BLOCKS = 19, 64, "resnet50", (3, 4, 6, 3)
ITERATIONS, HORIZON = 2, 10
ADAPT_LR, ADAPT_LR_D, DISTILL_LR, WEIGHT_DECAY = 2.5e-4, 1e-4, 5e-4, 5e-4
BOUND = 1e-2


# --- weights and data --------------------------------------------------------------------------

def initialise(feature_extractor, classifier, image, seed):
    """Random weights that keep activations O(1) in either BN mode.

    Convs He-normal (fan_in); BN gamma U(0.5, 1.5) (a quarter of it on each residual branch's
    last BN, ``bn3``), beta N(0, 0.2). Frozen BN gets running statistics near its input's on
    ``image`` (mean shifted, variance scaled 0.5-2×), so that frozen-BN activations stay O(1);
    trainable BN random ones (its output uses the batch's). The classifier as the original's
    (core/models/classifier.py:23-24): kernels N(0, 0.01), biases torch's default.
    """
    generator = torch.Generator().manual_seed(seed)
    ends = {m for name, m in feature_extractor.named_modules() if name.endswith("bn3")}

    def uniform(n, low, high):
        return torch.empty(n, dtype=torch.float64).uniform_(low, high, generator=generator)

    def normal(shape):
        return torch.randn(shape, generator=generator, dtype=torch.float64)

    def calibrate(bn, inputs):
        x = inputs[0]
        std = x.std((0, 2, 3)).clamp_min(1e-2)
        bn.running_mean.copy_(x.mean((0, 2, 3)) + 0.2 * std * normal(std.shape))
        bn.running_var.copy_(std ** 2 * uniform(len(std), 0.5, 2.0))

    hooks = []
    with torch.no_grad():
        for m in feature_extractor.modules():
            if isinstance(m, nn.Conv2d):
                m.weight.copy_(normal(m.weight.shape) * (2.0 / m.weight[0].numel()) ** 0.5)
            elif isinstance(m, (FrozenBatchNorm2d, nn.BatchNorm2d)):
                n = m.weight.shape[0]
                m.weight.copy_(uniform(n, 0.5, 1.5) * (0.25 if m in ends else 1.0))
                m.bias.copy_(0.2 * normal(n))
                if isinstance(m, FrozenBatchNorm2d):
                    hooks.append(m.register_forward_pre_hook(calibrate))
                else:
                    m.running_mean.copy_(0.5 * normal(n))
                    m.running_var.copy_(uniform(n, 0.5, 2.0))
        if hooks:
            feature_extractor.eval()(image)
        for conv in classifier.conv2d_list:
            conv.weight.copy_(0.01 * normal(conv.weight.shape))
    for hook in hooks:
        hook.remove()


def batch(images, seed):
    """``images`` NCHW float64 inputs and labels with ~10 % 255."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn((images, 3, SIZE, SIZE), generator=generator, dtype=torch.float64)
    y = torch.randint(0, K, (images, SIZE, SIZE), generator=generator)
    y[torch.rand((images, SIZE, SIZE), generator=generator) < 0.1] = 255
    return x, y


def nhwc(x):
    return tf.constant(np.transpose(x.numpy(), (0, 2, 3, 1)))


def state(modules):
    """Torch key (converter layout) -> array, for the named modules."""
    return {f"{section}:{key}": value.detach().numpy().copy()
            for section, module in modules.items()
            for key, value in module.state_dict().items() if not key.endswith("num_batches_tracked")}


@contextlib.contextmanager
def float64_models():
    """Models built inside are float64 (see the module docstring); the policy is reset after."""
    keras.utils.clear_session()   # (which also resets the dtype policy)
    keras.config.set_dtype_policy("float64")
    try:
        yield
    finally:
        keras.config.set_dtype_policy("float32")


def keras_state(keys):
    return {key: variable.numpy().copy() for key, variable in keys.items()}


def relative_errors(keys, torch_before, torch_after, keras_before, keras_after):
    """Per torch key: ||Δ_keras − Δ_torch|| / ||Δ_torch|| (0 if both are exactly 0)."""
    errors = {}
    for key in keys:
        expected = to_keras(torch_after[key].astype(np.float64) - torch_before[key])
        actual = keras_after[key] - keras_before[key]
        scale = np.linalg.norm(expected)
        difference = np.linalg.norm(actual - expected)
        errors[key] = difference / scale if scale else (0.0 if difference == 0 else np.inf)
    return errors


def worst(errors):
    key = max(errors, key=errors.get)
    return key, errors[key]


# --- (a) adaptation: train_adv.py --------------------------------------------------------------

@pytest.fixture(scope="module")
def adaptation():
    """Initial weights, batch and the torch reference's changes over ``ITERATIONS`` iterations."""
    torch.manual_seed(0)   # the discriminator's and the classifier biases' default init
    feature_extractor = FeatureExtractor(DilatedResNet(BLOCKS)).double()
    classifier = AsppClassifierV2(2048, K).double()
    discriminator = PixelDiscriminator(2048, K).double()
    (xs, ys), (xt, _) = batch(1, seed=1), batch(1, seed=2)
    xt = 1.5 * xt + 0.3
    initialise(feature_extractor, classifier, torch.cat([xs, xt]), seed=3)
    modules = {"feature_extractor": feature_extractor, "classifier": classifier, "model_D": discriminator}
    for module in modules.values():
        module.train()
    before = state(modules)
    optimizers = original_optimizers(feature_extractor, classifier, discriminator,
                                     base_lr=ADAPT_LR, base_lr_d=ADAPT_LR_D, weight_decay=WEIGHT_DECAY)
    for iteration in range(ITERATIONS):
        adaptation_iteration(feature_extractor, classifier, discriminator, optimizers, xs, ys, xt,
                             iteration, HORIZON, base_lr=ADAPT_LR, base_lr_d=ADAPT_LR_D)
    return {"before": before, "after": state(modules),
            "batch": ((nhwc(xs), tf.constant(ys.numpy().astype(np.int32))), nhwc(xt))}


def keras_adaptation(reference, segmentor_opt, discriminator_opt):
    """Per-key relative errors of FADAModel.train_step_losses (the training loop's step) against
    the reference."""
    with float64_models():
        segmentor = build_segmentor(ModelConfig(backbone=BACKBONE, freeze_bn=True), K, seed=0)
        discriminator = build_discriminator(2048, encoding_channels("soft", K), seed=1)
    keys = {**segmentor_keys(segmentor, BACKBONE, imagenet=False), **discriminator_keys(discriminator)}
    transfer(keys, reference["before"], "torch reference", "fada-tf", BACKBONE)
    model = FADAModel(segmentor, discriminator, encoding="soft", lambda_adv=0.001,
                      temperature=1.8, clip=0.9)
    model.compile(segmentor_optimizer=segmentor_opt, discriminator_optimizer=discriminator_opt)
    before = keras_state(keys)
    step = tf.function(model.train_step_losses)   # a graph, as the training loop runs it
    for _ in range(ITERATIONS):
        step(reference["batch"])
    return relative_errors(keys, reference["before"], reference["after"], before, keras_state(keys))


def sgd(**overrides):
    config = dict(learning_rate=ADAPT_LR, weight_decay=WEIGHT_DECAY, schedule_horizon=HORIZON)
    return segmentor_optimizer(SGDConfig(**{**config, **overrides}), ITERATIONS)


def adam():
    return discriminator_optimizer(AdamConfig(learning_rate=ADAPT_LR_D, schedule_horizon=HORIZON), ITERATIONS)


def test_adaptation_iterations_match_the_original(adaptation):
    errors = keras_adaptation(adaptation, sgd(), adam())
    print("adaptation, largest relative error per group:",
          {group: worst({k: e for k, e in errors.items() if k.startswith(group)})
           for group in ("feature_extractor:", "classifier:", "model_D:")})
    assert all(np.isfinite(e) for e in errors.values())
    key, error = worst(errors)
    assert error <= BOUND, (key, error)


def test_adaptation_parity_detects_keras_adam(adaptation):
    """The previous discriminator optimiser, keras.optimizers.Adam (epsilon hat, 1e-7)."""
    keras_adam = keras.optimizers.Adam(learning_rate=keras.optimizers.schedules.PolynomialDecay(
        ADAPT_LR_D, HORIZON, 0.0, power=0.9), beta_1=0.9, beta_2=0.99)
    errors = keras_adaptation(adaptation, sgd(), keras_adam)
    print("keras Adam, largest relative error:", worst(errors))
    assert worst({k: e for k, e in errors.items() if k.startswith("model_D:")})[1] > BOUND


# --- (b) self-distillation: train_self_distill.py, trainable BN --------------------------------

@pytest.fixture(scope="module")
def self_distillation():
    torch.manual_seed(10)
    feature_extractor = FeatureExtractor(DilatedResNet(BLOCKS, norm_layer=nn.BatchNorm2d)).double()
    classifier = AsppClassifierV2(2048, K).double()
    x, y = batch(2, seed=11)
    initialise(feature_extractor, classifier, x, seed=12)
    modules = {"feature_extractor": feature_extractor, "classifier": classifier}
    feature_extractor.train()
    classifier.train()
    before = state(modules)
    optimizers = original_optimizers(feature_extractor, classifier, base_lr=DISTILL_LR,
                                     weight_decay=WEIGHT_DECAY)
    for iteration in range(ITERATIONS):
        self_distill_iteration(feature_extractor, classifier, optimizers, x, y, iteration, HORIZON,
                               base_lr=DISTILL_LR)
    return {"before": before, "after": state(modules),
            "batch": (nhwc(x), tf.constant(y.numpy().astype(np.int32)))}


def keras_self_distillation(reference):
    with float64_models():
        segmentor = build_segmentor(ModelConfig(backbone=BACKBONE, freeze_bn=False), K, seed=0)
    keys = segmentor_keys(segmentor, BACKBONE, imagenet=False)
    transfer(keys, reference["before"], "torch reference", "fada-tf", BACKBONE)
    model = SourceOnlyModel(segmentor)
    model.compile(optimizer=segmentor_optimizer(SGDConfig(
        learning_rate=DISTILL_LR, weight_decay=WEIGHT_DECAY, schedule_horizon=HORIZON), ITERATIONS))
    before = keras_state(keys)
    step = tf.function(model.train_step_losses)   # a graph, as the training loop runs it
    for _ in range(ITERATIONS):
        step(reference["batch"])
    return relative_errors(keys, reference["before"], reference["after"], before, keras_state(keys))


def test_self_distillation_iterations_match_the_original(self_distillation):
    errors = keras_self_distillation(self_distillation)
    statistics = {k: e for k, e in errors.items() if k.endswith(("running_mean", "running_var"))}
    assert len(statistics) == 2 * 53   # every BN of ResNet-50: stem, 16 blocks x 3, 4 downsamples
    print("self-distillation, largest relative error: weights", worst(
        {k: e for k, e in errors.items() if k not in statistics}), "BN statistics", worst(statistics))
    key, error = worst(errors)
    assert error <= BOUND, (key, error)


def test_self_distillation_parity_detects_keras_batch_norm(self_distillation, monkeypatch):
    """The previous trainable BN, Keras' BatchNormalization(momentum 0.9, epsilon 1e-5): it
    updates running_var with the biased variance."""
    keras_bn = functools.partial(keras.layers.BatchNormalization, epsilon=1e-5, momentum=0.9)
    monkeypatch.setattr(resnet, "batch_norm_layer", lambda freeze_bn: keras_bn)
    errors = keras_self_distillation(self_distillation)
    print("keras BatchNormalization, largest relative error:", worst(errors))
    assert any(e > BOUND for k, e in errors.items() if k.endswith("running_var"))


# --- the head's initialisation ----------------------------------------------------------------
