"""Under mixed precision the networks compute in bfloat16 or float16, while every loss and
every domain encoding of ``FADAModel`` and ``SourceOnlyModel`` receives float32 tensors."""

import numpy as np
import pytest
import tensorflow as tf

import fada_tf.adaptation.fada_model as fada_model
import fada_tf.adaptation.source_only as source_only
from fada_tf.adaptation import SourceOnlyModel
from fada_tf.config import load_config
from fada_tf.models import build_segmentor
from fada_tf.training.precision import set_precision
from fada_tf.training.stages.adapt import build_adaptation_model
from fada_tf.training.stages.common import stage_segmentor_optimizer

K = 9
SIZE = (32, 48)
LOSS_FUNCTIONS = {fada_model: ("segmentation_loss_terms", "adversarial_loss", "discriminator_loss",
                               "domain_encoding"),
                  source_only: ("segmentation_loss_terms",)}


@pytest.fixture(params=["mixed_bfloat16", "mixed_float16"])
def precision(request):
    set_precision(request.param)
    yield request.param
    set_precision("float32")


@pytest.fixture
def floating_inputs(monkeypatch):
    """{function name: dtypes of the floating-point tensors it was called with}."""
    seen = {}
    for module, names in LOSS_FUNCTIONS.items():
        for name in names:
            def recording(*args, _name=name, _function=getattr(module, name), **kwargs):
                seen.setdefault(_name, set()).update(
                    a.dtype.name for a in (*args, *kwargs.values())
                    if isinstance(a, tf.Tensor) and a.dtype.is_floating)
                return _function(*args, **kwargs)
            monkeypatch.setattr(module, name, recording)
    return seen


def batch():
    rng = np.random.default_rng(0)
    images = lambda: tf.constant(rng.normal(size=(2, *SIZE, 3)), tf.float32)   # noqa: E731
    labels = tf.constant(rng.integers(0, K, size=(2, *SIZE)), tf.int32)
    return (images(), labels), images()


def test_fada_step_feeds_its_losses_and_encodings_float32(precision, floating_inputs):
    config = load_config("configs/synthetic.yaml", ["model.tiny_width=4", f"run.precision={precision}"])
    segmentor = build_segmentor(config.model, K, seed=0)
    model = build_adaptation_model(config, segmentor, K)
    (images, _), _ = data = batch()
    assert segmentor(images)["features"].dtype == precision.split("_")[1]   # the premise
    losses = model.train_step_losses(data)
    assert set(floating_inputs) == {"segmentation_loss_terms", "adversarial_loss",
                                    "discriminator_loss", "domain_encoding"}
    assert floating_inputs == {name: {"float32"} for name in floating_inputs}
    assert all(loss.dtype == tf.float32 and np.isfinite(loss) for loss in losses.values())


def test_source_only_step_feeds_its_loss_float32(precision, floating_inputs):
    config = load_config("configs/synthetic.yaml", ["model.tiny_width=4", f"run.precision={precision}"])
    model = SourceOnlyModel(build_segmentor(config.model, K, seed=0))
    model.compile(optimizer=stage_segmentor_optimizer(config, config.source))
    losses = model.train_step_losses(batch()[0])
    assert floating_inputs == {"segmentation_loss_terms": {"float32"}}
    assert losses["seg_loss"].dtype == tf.float32 and np.isfinite(losses["seg_loss"])
