"""fada_tf.training.stages.adapt: the one place a FADA model is assembled from a config."""

import keras
import numpy as np
import pytest

from fada_tf.adaptation import FADAModel
from fada_tf.config import load_config
from fada_tf.errors import FadaError
from fada_tf.models import build_segmentor
from fada_tf.training.optimizers import TorchAdam, TorchSGD
from fada_tf.training.precision import set_precision
from fada_tf.training.stages.adapt import build_adaptation_model, initialise_adaptation

CLASSES = 9


@pytest.mark.parametrize("encoding, channels", [("soft", CLASSES), ("hard", CLASSES), ("binary", 1)])
def test_the_model_carries_the_adapt_stages_settings(encoding, channels):
    config = load_config("configs/synthetic.yaml", [
        f"adapt.encoding={encoding}", "adapt.lambda_adv=0.01", "adapt.temperature=2.5",
        "adapt.clip=0.8", "adapt.hard_threshold=0.7", "adapt.steps=40",
        "adapt.optimizer.learning_rate=0.02", "adapt.discriminator_optimizer.learning_rate=0.003",
        "adapt.discriminator_optimizer.beta_2=0.95", "run.recompute=true"])
    model = build_adaptation_model(config, build_segmentor(config.model, CLASSES, seed=0), CLASSES)
    assert isinstance(model, FADAModel) and model.compiled
    assert (model.encoding, model.lambda_adv, model.temperature, model.clip, model.hard_threshold,
            model.recompute) == (encoding, 0.01, 2.5, 0.8, 0.7, True)
    features = np.zeros((1, 4, 6, model.discriminator.input_shape[-1]), np.float32)
    assert model.discriminator(features).shape[-1] == 2 * channels   # source and target per class
    sgd, adam = model.optimizer, model.discriminator_optimizer
    assert isinstance(sgd, TorchSGD) and isinstance(adam, TorchAdam) and adam.beta_2 == 0.95
    # Poly schedules over adapt.steps: the full rate at step 0, nothing left at the horizon.
    for optimizer, rate in ((sgd, 0.02), (adam, 0.003)):
        np.testing.assert_allclose(float(optimizer.learning_rate), rate, rtol=1e-6)
        optimizer.iterations.assign(40)
        np.testing.assert_allclose(float(optimizer.learning_rate), 0.0, atol=1e-9)


def test_mixed_float16_scales_both_losses():
    config = load_config("configs/synthetic.yaml", ["run.precision=mixed_float16"])
    set_precision("mixed_float16")
    try:
        model = build_adaptation_model(config, build_segmentor(config.model, CLASSES, seed=0), CLASSES)
    finally:
        set_precision("float32")
    for optimizer in (model.optimizer, model.discriminator_optimizer):
        assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer)


def test_adaptation_without_a_source_stage_needs_its_starting_weights():
    config = load_config("configs/synthetic.yaml", ["run.stages=[adapt]"])
    with pytest.raises(FadaError, match="adapt.init_checkpoint"):
        initialise_adaptation(config, build_segmentor(config.model, CLASSES, seed=0))
