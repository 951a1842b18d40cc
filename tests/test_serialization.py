"""Every Keras class fada-tf registers round-trips through its serialised config."""

import importlib
import pkgutil

import keras
import numpy as np
import pytest

import fada_tf
from fada_tf.models.aspp import AsppClassifierV2
from fada_tf.models.frozen_batch_norm import FrozenBatchNorm
from fada_tf.models.torch_batch_norm import TorchBatchNorm
from fada_tf.training.optimizers import TorchAdam, TorchSGD
from tests.support.serialization import run_serialization_test

IMAGES = np.random.default_rng(0).normal(size=(2, 16, 24, 3)).astype(np.float32)
FEATURES = np.random.default_rng(1).normal(size=(2, 4, 6, 8)).astype(np.float32)


def _segmentor():
    config = fada_tf.load_config("configs/synthetic.yaml")
    return config, fada_tf.build_segmentor(config.model, 9, seed=0)


def _fada_model():
    config, segmentor = _segmentor()
    return fada_tf.build_adaptation_model(config, segmentor, 9)


def _source_only_model():
    _, segmentor = _segmentor()
    return fada_tf.SourceOnlyModel(segmentor)


# Each registered class: an instance and the inputs to compare outputs on (None: config only).
CASES = {
    "fada_tf>TorchSGD": lambda: (TorchSGD(learning_rate=0.01, momentum=0.8, l2_weight_decay=5e-4,
                                          lr_multipliers={"aspp": 10.0}), None),
    "fada_tf>TorchAdam": lambda: (TorchAdam(learning_rate=1e-4, beta_1=0.9, beta_2=0.99), None),
    "fada_tf>FrozenBatchNorm": lambda: (FrozenBatchNorm(name="bn"), FEATURES),
    "fada_tf>TorchBatchNorm": lambda: (TorchBatchNorm(epsilon=1e-3, momentum=0.2, name="bn"), FEATURES),
    "fada_tf>AsppClassifierV2": lambda: (AsppClassifierV2(5, dilations=(1, 2), seed=3), FEATURES),
    "fada_tf>FADAModel": lambda: (_fada_model(), IMAGES),
    "fada_tf>SourceOnlyModel": lambda: (_source_only_model(), IMAGES),
}


def test_every_registered_class_has_a_case():
    for module in pkgutil.walk_packages(fada_tf.__path__, "fada_tf."):
        importlib.import_module(module.name)   # registers every class the package defines
    registered = {name for name in keras.saving.get_custom_objects() if name.startswith("fada_tf>")}
    assert registered == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_round_trip(name):
    obj, inputs = CASES[name]()
    restored = run_serialization_test(obj, inputs)
    assert keras.saving.get_registered_name(type(restored)) == name
