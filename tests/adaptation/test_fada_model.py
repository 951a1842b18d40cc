"""``fada_tf.adaptation.fada_model``: one FADA train_step updates each network with exactly the
gradients the paper assigns it.

Both networks are given plain gradient descent (momentum 0, no weight decay) so that a
variable's change is ``-lr · gradient``; the expected gradients are computed independently
with a tape from the loss definitions (eq. 2-6), which tests/adaptation/test_losses.py and
test_encodings.py check against numpy. The same step against the original's PyTorch
iteration: tests/adaptation/test_fada_model_vs_torch.py.
"""

import numpy as np
import pytest
import tensorflow as tf

from fada_tf.adaptation import (FADAModel, adversarial_loss, discriminator_loss, domain_encoding,
                                encoding_channels, segmentation_loss)
from fada_tf.config.schema import ModelConfig
from fada_tf.models import build_discriminator, build_segmentor
from fada_tf.models.resize import resize_bilinear
from fada_tf.training.optimizers import TorchSGD

K, T, LR = 4, 1.8, 1e-2


def build(lambda_adv=0.5, encoding="soft", freeze_bn=True, seed=0):
    segmentor = build_segmentor(ModelConfig(backbone="tiny", tiny_width=4, freeze_bn=freeze_bn), K, seed=seed)
    channels = segmentor.output["features"].shape[-1]
    discriminator = build_discriminator(channels, encoding_channels(encoding, K), channels=(8, 8), seed=seed + 1)
    model = FADAModel(segmentor, discriminator, encoding=encoding, lambda_adv=lambda_adv,
                      temperature=T, clip=0.9, hard_threshold=0.0)
    model.compile(segmentor_optimizer=TorchSGD(LR, momentum=0.0),
                  discriminator_optimizer=TorchSGD(LR, momentum=0.0))
    return model


def make_batch(ignore_all=False):
    rng = np.random.default_rng(0)
    xs = rng.normal(size=(2, 32, 48, 3)).astype(np.float32)
    ys = rng.integers(0, K, size=(2, 32, 48)).astype(np.int32)
    if ignore_all:
        ys[:] = 255
    xt = (rng.normal(size=(2, 24, 40, 3)) * 1.5 + 0.3).astype(np.float32)
    return (xs, ys), xt


def one_step(model, batch):
    data = tf.data.Dataset.from_tensors(batch).repeat()
    model.fit(data, epochs=1, steps_per_epoch=1, verbose=0, shuffle=False)


def snapshot(variables):
    return [v.numpy().copy() for v in variables]


def deltas(before, variables):
    return [v.numpy() - b for b, v in zip(before, variables)]


def expected_gradients(model, batch):
    """Gradients of eq. 2 w.r.t. the segmentor and of eq. 5 w.r.t. the discriminator."""
    (xs, ys), xt = batch
    seg, disc = model.segmentor, model.discriminator
    with tf.GradientTape(persistent=True) as tape:
        s, t = seg(xs, training=True), seg(xt, training=True)
        zs, zt = resize_bilinear(s["logits"], ys.shape[1:3]), resize_bilinear(t["logits"], xt.shape[1:3])
        a_s = domain_encoding(zs, model.encoding, T, 0.9, 0.0)
        a_t = domain_encoding(zt, model.encoding, T, 0.9, 0.0)
        l_adv = adversarial_loss(resize_bilinear(disc(t["features"]), xt.shape[1:3]), a_t)
        l_g = segmentation_loss(zs / T, ys) + model.lambda_adv * l_adv
        l_d = discriminator_loss(resize_bilinear(disc(tf.stop_gradient(s["features"])), ys.shape[1:3]),
                                 resize_bilinear(disc(tf.stop_gradient(t["features"])), xt.shape[1:3]),
                                 a_s, a_t)
    g_seg = tape.gradient(l_g, seg.trainable_variables)
    g_disc = tape.gradient(l_d, disc.trainable_variables)
    return [g.numpy() for g in g_seg], [g.numpy() for g in g_disc]


def assert_moved_by(delta, gradients):
    for d, g in zip(delta, gradients):
        np.testing.assert_allclose(d, -LR * g, rtol=2e-3, atol=1e-7 + 1e-3 * LR * np.abs(g).max())


@pytest.mark.parametrize("encoding", ["soft", "hard", "binary"])
def test_each_network_moves_by_its_own_loss_only(encoding):
    model = build(encoding=encoding)
    batch = make_batch()
    g_seg, g_disc = expected_gradients(model, batch)
    seg_vars, disc_vars = model.segmentor.trainable_variables, model.discriminator.trainable_variables
    before_seg, before_disc = snapshot(seg_vars), snapshot(disc_vars)
    one_step(model, batch)
    assert_moved_by(deltas(before_seg, seg_vars), g_seg)
    assert_moved_by(deltas(before_disc, disc_vars), g_disc)


def test_adversarial_gradient_reaches_the_feature_extractor_only():
    """With every source pixel ignored L_seg is 0: only L_adv moves the segmentor, and the
    classifier, which enters L_adv only through the detached encodings, must stay put."""
    model = build(lambda_adv=1.0)
    variables = model.segmentor.trainable_variables
    before = snapshot(variables)
    one_step(model, make_batch(ignore_all=True))
    moved = {v.path: not np.array_equal(b, v.numpy()) for b, v in zip(before, variables)}
    head = [p for p in moved if "aspp" in p]
    body = [p for p in moved if "aspp" not in p]
    assert head and body
    assert not any(moved[p] for p in head)
    assert all(moved[p] for p in body if "kernel" in p)


def test_discriminator_update_does_not_depend_on_lambda():
    """D's own gradient of L_adv is never applied: its update is the same for any λ."""
    updates = []
    for lambda_adv in (0.0, 10.0):
        model = build(lambda_adv=lambda_adv)
        variables = model.discriminator.trainable_variables
        before = snapshot(variables)
        one_step(model, make_batch())
        updates.append(deltas(before, variables))
    for a, b in zip(*updates):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-9)


def test_frozen_batch_norm_statistics_do_not_move():
    model = build(freeze_bn=True)
    frozen = [w for w in model.segmentor.non_trainable_weights]
    assert frozen, "frozen BN keeps its statistics as non-trainable weights"
    assert not any("moving" in w.path or "gamma" in w.path for w in model.segmentor.trainable_weights)
    before = snapshot(frozen)
    for _ in range(2):
        one_step(model, make_batch())
    for b, w in zip(before, frozen):
        np.testing.assert_array_equal(b, w.numpy())


def test_trainable_batch_norm_statistics_see_both_domains():
    """The from-scratch tiny setting keeps BN trainable: its statistics move during adaptation."""
    model = build(freeze_bn=False)
    stats = [w for w in model.segmentor.non_trainable_weights if "moving" in w.path]
    assert stats
    before = snapshot(stats)
    one_step(model, make_batch())
    assert any(not np.array_equal(b, w.numpy()) for b, w in zip(before, stats))


def test_metrics_are_the_three_losses():
    model = build()
    history = model.fit(tf.data.Dataset.from_tensors(make_batch()).repeat(), epochs=1,
                        steps_per_epoch=2, verbose=0, shuffle=False)
    assert set(history.history) == {"seg_loss", "adv_loss", "d_loss"}
    assert all(np.isfinite(v[0]) for v in history.history.values())
