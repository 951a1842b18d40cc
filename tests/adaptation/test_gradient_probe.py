"""``GradientProbe``: the cosine it reports is the cosine of the two discriminators' L_adv
gradients, computed here independently with a tape; it trains its discriminator exactly as a
run with its encoding would, and leaves the run's own updates untouched."""

import numpy as np
import pytest
import tensorflow as tf

from fada_tf.adaptation import FADAModel, adversarial_loss, domain_encoding, encoding_channels
from fada_tf.adaptation.gradient_probe import GradientProbe
from fada_tf.config import load_config
from fada_tf.config.schema import ModelConfig
from fada_tf.errors import ConfigError
from fada_tf.models import build_discriminator, build_segmentor
from fada_tf.models.resize import resize_bilinear
from fada_tf.training.optimizers import TorchSGD
from fada_tf.training.stages.adapt import build_adaptation_model
from fada_tf.training.steps import compiled_step

K, T, LR = 4, 1.8, 1e-2


def discriminator(channels, encoding, seed):
    return build_discriminator(channels, encoding_channels(encoding, K), channels=(8, 8), seed=seed)


def build(encoding, probe_encoding=None, discriminator_seed=1):
    """A tiny FADA model (plain SGD for both networks; always the same segmentor) whose
    discriminator is drawn with ``discriminator_seed``, and an optional probe (seed 2)."""
    segmentor = build_segmentor(ModelConfig(backbone="tiny", tiny_width=4, freeze_bn=True), K, seed=0)
    channels = segmentor.output["features"].shape[-1]
    probe = (GradientProbe(discriminator(channels, probe_encoding, 2), TorchSGD(LR, momentum=0.0),
                           probe_encoding, T, 0.9, 0.0) if probe_encoding else None)
    model = FADAModel(segmentor, discriminator(channels, encoding, discriminator_seed),
                      encoding=encoding, lambda_adv=0.5, temperature=T, clip=0.9, hard_threshold=0.0,
                      probe=probe)
    model.compile(segmentor_optimizer=TorchSGD(LR, momentum=0.0),
                  discriminator_optimizer=TorchSGD(LR, momentum=0.0))
    return model


def make_batch():
    rng = np.random.default_rng(0)
    xs = rng.normal(size=(2, 32, 48, 3)).astype(np.float32)
    ys = rng.integers(0, K, size=(2, 32, 48)).astype(np.int32)
    xt = (rng.normal(size=(2, 24, 40, 3)) * 1.5 + 0.3).astype(np.float32)
    return (xs, ys), xt


def adversarial_gradient(segmentor, disc, encoding, xt):
    """∇_segmentor L_adv (eq. 6) under ``disc`` with ``encoding``, flattened."""
    with tf.GradientTape() as tape:
        out = segmentor(xt, training=True)
        logits = resize_bilinear(out["logits"], xt.shape[1:3])
        loss = adversarial_loss(resize_bilinear(disc(out["features"]), xt.shape[1:3]),
                                domain_encoding(logits, encoding, T, 0.9, 0.0))
    gradients = tape.gradient(loss, segmentor.trainable_variables)
    return np.concatenate([g.numpy().ravel() for g in gradients if g is not None])


def test_adv_cosine_is_the_cosine_of_the_two_adversarial_gradients():
    model = build("soft", probe_encoding="binary")
    batch = make_batch()
    soft = adversarial_gradient(model.segmentor, model.discriminator, "soft", batch[1])
    binary = adversarial_gradient(model.segmentor, model.probe.discriminator, "binary", batch[1])
    expected = soft @ binary / np.linalg.norm(soft) / np.linalg.norm(binary)
    losses = model.train_step_losses(batch)
    assert abs(expected) > 0.01  # a cosine that tells something
    np.testing.assert_allclose(float(losses["adv_cosine"]), expected, rtol=1e-4, atol=1e-6)


def test_a_probe_of_the_runs_own_encoding_differs_only_by_its_discriminators_weights():
    """The class study's cosine control: a probe with the run's encoding gives a cosine of 1
    from the run's own discriminator weights, and below 1 from the other weights it starts with."""
    batch = make_batch()
    same_weights = build("binary", probe_encoding="binary", discriminator_seed=2)
    np.testing.assert_allclose(float(same_weights.train_step_losses(batch)["adv_cosine"]), 1.0, rtol=1e-5)
    other_weights = build("binary", probe_encoding="binary")
    assert float(other_weights.train_step_losses(batch)["adv_cosine"]) < 0.99
    config = load_config(None, ["adapt.encoding=binary", "adapt.probe_encoding=binary", "model.tiny_width=4",
                                "model.discriminator_channels=[8,8]"])
    model = build_adaptation_model(config, build_segmentor(config.model, K), K)
    assert not np.allclose(model.discriminator.weights[0].numpy(), model.probe.discriminator.weights[0].numpy())


def test_the_probe_trains_like_its_own_run_and_leaves_the_run_alone():
    batch = make_batch()
    probed, plain, binary_run = build("soft", "binary"), build("soft"), build("binary", discriminator_seed=2)
    for model in (probed, plain, binary_run):
        model.train_step_losses(batch)
    # The run's segmentor and discriminator move as without the probe ...
    for a, b in zip(probed.segmentor.weights + probed.discriminator.weights,
                    plain.segmentor.weights + plain.discriminator.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-7)
    # ... and the probe's discriminator as the discriminator of a binary run would.
    for a, b in zip(probed.probe.discriminator.weights, binary_run.discriminator.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-7)


def test_the_adapt_stage_builds_the_probe_from_the_config_and_the_step_reports_it():
    config = load_config(None, ["adapt.probe_encoding=binary", "model.tiny_width=4",
                                "model.discriminator_channels=[8,8]"])
    segmentor = build_segmentor(config.model, K)
    model = build_adaptation_model(config, segmentor, K)
    assert model.encoding == "soft" and model.probe.encoding == "binary"
    assert model.probe.discriminator.output.shape[-1] == 2  # binary: one channel per domain
    batches = iter(tf.data.Dataset.from_tensors(make_batch()).repeat())
    losses = compiled_step(tf.distribute.get_strategy(), model)(batches)
    assert set(losses) == {"seg_loss", "adv_loss", "d_loss", "adv_cosine"}
    assert -1 <= float(losses["adv_cosine"]) <= 1


def test_the_adapt_stage_trains_the_same_segmentor_with_and_without_the_probe():
    weights = []
    for probe in ([], ["adapt.probe_encoding=binary"]):
        config = load_config(None, [*probe, "model.tiny_width=4", "model.discriminator_channels=[8,8]"])
        segmentor = build_segmentor(config.model, K, seed=3)
        step = compiled_step(tf.distribute.get_strategy(), build_adaptation_model(config, segmentor, K))
        batches = iter(tf.data.Dataset.from_tensors(make_batch()).repeat())
        for _ in range(3):
            step(batches)
        weights.append([w.numpy() for w in segmentor.weights])
    for plain, probed in zip(*weights):
        np.testing.assert_allclose(probed, plain, rtol=1e-5, atol=1e-6)


def test_a_probe_without_adversarial_gradient_is_an_error():
    with pytest.raises(ConfigError, match="adapt.probe_encoding needs adapt.lambda_adv > 0"):
        load_config(None, ["adapt.probe_encoding=binary", "adapt.lambda_adv=0"])
