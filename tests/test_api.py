"""The public Python API: ``import fada_tf`` is light, and its Keras models train with ``fit``
and round-trip through ``.keras`` files.

``fit`` must report, per epoch, the mean of the per-step losses: checked against the same
steps run by hand (``train_step_losses``) on a copy of the model. A loaded ``.keras`` model
must give the same logits and, continuing ``fit``, end with the same weights and optimiser
states as the model it was saved from. Under a mirrored strategy ``fit`` must report the
global batch's losses.
"""

import importlib
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import fada_tf
from fada_tf.models.frozen_batch_norm import FrozenBatchNorm
from fada_tf.models.torch_batch_norm import TorchBatchNorm

# Public name -> the module that defines it.
PUBLIC = {
    "Config": "fada_tf.config.schema",
    "load_config": "fada_tf.config.loader",
    "FADAModel": "fada_tf.adaptation.fada_model",
    "SourceOnlyModel": "fada_tf.adaptation.source_only",
    "encoding_channels": "fada_tf.adaptation.encodings",
    "build_segmentor": "fada_tf.models.segmentor",
    "feature_channels": "fada_tf.models.segmentor",
    "build_discriminator": "fada_tf.models.discriminator",
    "segmentor_optimizer": "fada_tf.training.optimizers",
    "discriminator_optimizer": "fada_tf.training.optimizers",
    "stage_batches": "fada_tf.data.datasets",
    "class_table": "fada_tf.data.classes",
    "evaluate": "fada_tf.evaluation.evaluate",
    "evaluate_target": "fada_tf.evaluation.target",
    "build_adaptation_model": "fada_tf.training.stages.adapt",
    "run_training": "fada_tf.training.run",
    "RunDir": "fada_tf.training.run_dir",
}
SIZE, BATCH, STEPS_PER_EPOCH, EPOCHS = (32, 64), 2, 3, 2
LOSSES = ["seg_loss", "adv_loss", "d_loss"]


# --- the package ------------------------------------------------------------------------------

def test_importing_fada_tf_loads_neither_tensorflow_nor_keras(repo):
    code = ("import sys, fada_tf\n"
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules\n"
            "assert set(fada_tf.__all__) <= set(dir(fada_tf))\n"
            "fada_tf.load_config('configs/synthetic.yaml')\n"
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules\n"
            "from fada_tf import FADAModel\n"
            "assert 'tensorflow' in sys.modules and FADAModel.__name__ == 'FADAModel'\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=repo)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_every_public_name_is_the_object_of_its_module():
    assert sorted(fada_tf.__all__) == sorted(PUBLIC)
    for name, module in PUBLIC.items():
        assert getattr(fada_tf, name) is getattr(importlib.import_module(module), name), name
    from fada_tf import FADAModel, evaluate, run_training
    assert (FADAModel, evaluate, run_training) == (fada_tf.FADAModel, fada_tf.evaluate,
                                                   fada_tf.run_training)


def test_an_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match=r"^module 'fada_tf' has no attribute 'FadaModel'$"):
        fada_tf.FadaModel   # noqa: B018
    assert not hasattr(fada_tf, "no_such_name")
    with pytest.raises(ImportError, match="cannot import name 'no_such_name' from 'fada_tf'"):
        exec("from fada_tf import no_such_name")


# --- models trained with fit ------------------------------------------------------------------

@pytest.fixture(scope="module")
def config():
    return fada_tf.load_config("configs/synthetic.yaml")


def num_classes(config):
    return fada_tf.class_table(config.data.classes).num_classes


def build_fada(config, seed=0):
    k = num_classes(config)
    segmentor = fada_tf.build_segmentor(config.model, k, seed=seed)
    discriminator = fada_tf.build_discriminator(
        fada_tf.feature_channels(config.model.backbone, config.model.tiny_width),
        fada_tf.encoding_channels(config.adapt.encoding, k),
        channels=tuple(config.model.discriminator_channels), seed=seed + 1)
    stage = config.adapt
    model = fada_tf.FADAModel(segmentor, discriminator, encoding=stage.encoding,
                              lambda_adv=stage.lambda_adv, temperature=stage.temperature,
                              clip=stage.clip, hard_threshold=stage.hard_threshold)
    compile_fada(model, config)
    return model


def compile_fada(model, config):
    horizon = 20
    model.compile(segmentor_optimizer=fada_tf.segmentor_optimizer(config.adapt.optimizer, horizon),
                  discriminator_optimizer=fada_tf.discriminator_optimizer(
                      config.adapt.discriminator_optimizer, horizon))


def batches(config, count, seed):
    """``count`` distinct ((source images, labels), target images) batches, then again."""
    rng = np.random.default_rng(seed)
    source = rng.normal(size=(count, BATCH, *SIZE, 3)).astype(np.float32)
    labels = rng.integers(0, num_classes(config), size=(count, BATCH, *SIZE)).astype(np.int32)
    labels[:, :, :4] = 255   # some ignored pixels
    target = (rng.normal(size=(count, BATCH, *SIZE, 3)) * 1.5 + 0.3).astype(np.float32)
    return (tf.data.Dataset.from_tensor_slices((source, labels)).repeat(),
            tf.data.Dataset.from_tensor_slices(target).repeat())


def copy_of(model):
    """A second model from ``model``'s config, with its weights and a fresh compile."""
    twin = type(model).from_config(model.get_config())
    twin.set_weights(model.get_weights())
    return twin


def assert_same_weights(a, b, rtol=0.0, atol=0.0):
    for x, y in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(x, y, rtol=rtol, atol=atol)


@pytest.fixture(scope="module")
def fitted(config):
    """A FADAModel after ``fit`` (2 epochs of 3 steps), a copy of it from before, its History."""
    model = build_fada(config)
    # Logits of a fresh head (kernels N(0, 0.01)) are tiny, so that L_seg is about ln K on
    # every batch; larger ones make the step losses differ from batch to batch.
    head = model.segmentor.get_layer("aspp")
    head.set_weights([30.0 * w for w in head.get_weights()])
    before = copy_of(model)
    compile_fada(before, config)
    source, target = batches(config, EPOCHS * STEPS_PER_EPOCH, seed=0)
    history = model.fit(tf.data.Dataset.zip((source, target)), epochs=EPOCHS,
                        steps_per_epoch=STEPS_PER_EPOCH, verbose=0, shuffle=False)
    return {"model": model, "before": before, "history": history.history,
            "data": (source, target)}


def test_fit_reports_each_epochs_mean_of_the_step_losses(fitted):
    history = fitted["history"]
    assert sorted(history) == sorted(LOSSES)
    assert all(len(history[name]) == EPOCHS and np.all(np.isfinite(history[name]))
               for name in LOSSES)
    # The same steps by hand on the copy, as the run's own loop computes them.
    model, (source, target) = fitted["before"], fitted["data"]
    step = tf.function(model.train_step_losses)
    steps = [{name: float(value) for name, value in step(batch).items()}
             for batch in tf.data.Dataset.zip((source, target)).take(EPOCHS * STEPS_PER_EPOCH)]
    for epoch in range(EPOCHS):
        window = steps[epoch * STEPS_PER_EPOCH:(epoch + 1) * STEPS_PER_EPOCH]
        for name in LOSSES:
            values = [losses[name] for losses in window]
            expected = np.mean(values)
            np.testing.assert_allclose(history[name][epoch], expected, rtol=1e-5,
                                       err_msg=f"{name}, epoch {epoch + 1}")
            # The check tells the mean from any single step's loss (the last one, say).
            assert np.ptp(values) > 1e-3 * abs(expected), (name, values)
    assert_same_weights(model, fitted["model"], rtol=1e-4, atol=1e-6)
    assert [m.name for m in fitted["model"].metrics] == LOSSES


def test_a_saved_fada_model_loads_with_its_logits_and_continues_fit(fitted, config, tmp_path):
    model = fitted["model"]
    path = tmp_path / "fada.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is fada_tf.FADAModel and loaded.compiled
    for key in ("encoding", "lambda_adv", "temperature", "clip", "hard_threshold"):
        assert getattr(loaded, key) == getattr(model, key)
    images = next(iter(fitted["data"][1]))
    np.testing.assert_array_equal(loaded(images)["logits"], model(images)["logits"])
    assert_same_weights(loaded.segmentor, model.segmentor)
    assert_same_weights(loaded.discriminator, model.discriminator)
    for name in ("optimizer", "discriminator_optimizer"):
        original, restored = getattr(model, name), getattr(loaded, name)
        assert type(restored) is type(original) and restored.get_config() == original.get_config()
        assert int(restored.iterations) == EPOCHS * STEPS_PER_EPOCH
        for a, b in zip(original.variables, restored.variables):
            np.testing.assert_array_equal(a, b, err_msg=a.path)

    # Both continue on the same batches and stay identical (weights, BN statistics, optimisers).
    more = tf.data.Dataset.zip(batches(config, 2, seed=1))
    continued = [m.fit(more, epochs=1, steps_per_epoch=2, verbose=0, shuffle=False).history
                 for m in (model, loaded)]
    assert continued[0] == continued[1]
    assert_same_weights(loaded, model)
    for a, b in zip(model.discriminator_optimizer.variables, loaded.discriminator_optimizer.variables):
        np.testing.assert_array_equal(a, b, err_msg=a.path)


def test_source_only_model_fits_saves_and_loads(config, tmp_path):
    segmentor = fada_tf.build_segmentor(config.model, num_classes(config), seed=3)
    model = fada_tf.SourceOnlyModel(segmentor)
    model.compile(optimizer=fada_tf.segmentor_optimizer(config.source.optimizer, 10))
    before = copy_of(model)
    before.compile(optimizer=fada_tf.segmentor_optimizer(config.source.optimizer, 10))
    source, _ = batches(config, 3, seed=2)
    history = model.fit(source, epochs=1, steps_per_epoch=3, verbose=0, shuffle=False).history
    step = tf.function(before.train_step_losses)
    by_hand = [float(step(batch)["seg_loss"]) for batch in source.take(3)]
    assert list(history) == ["seg_loss"]
    np.testing.assert_allclose(history["seg_loss"][0], np.mean(by_hand), rtol=1e-5)

    model.save(tmp_path / "source.keras")
    loaded = keras.saving.load_model(tmp_path / "source.keras")
    assert type(loaded) is fada_tf.SourceOnlyModel and loaded.compiled
    images = next(iter(source))[0]
    np.testing.assert_array_equal(loaded(images)["logits"], model(images)["logits"])
    assert int(loaded.optimizer.iterations) == 3
    continued = [m.fit(source, epochs=1, steps_per_epoch=1, verbose=0, shuffle=False).history
                 for m in (model, loaded)]
    assert continued[0] == continued[1]
    assert_same_weights(loaded, model)


@pytest.mark.parametrize("freeze_bn, norm", [(True, FrozenBatchNorm), (False, TorchBatchNorm)])
def test_segmentor_layers_round_trip_through_their_configs(config, freeze_bn, norm, tmp_path):
    model_config = fada_tf.load_config("configs/synthetic.yaml",
                                       [f"model.freeze_bn={str(freeze_bn).lower()}"]).model
    segmentor = fada_tf.build_segmentor(model_config, num_classes(config), seed=5)
    backbone = segmentor.get_layer("backbone")
    assert any(isinstance(layer, norm) for layer in backbone.layers)
    for layer in [*backbone.layers, segmentor.get_layer("aspp")]:
        clone = type(layer).from_config(layer.get_config())
        assert clone.get_config() == layer.get_config(), layer.name
    images = np.random.default_rng(4).normal(size=(1, *SIZE, 3)).astype(np.float32)
    segmentor.save(tmp_path / "segmentor.keras")
    loaded = keras.saving.load_model(tmp_path / "segmentor.keras")
    for key in ("features", "logits"):
        np.testing.assert_array_equal(loaded(images)[key], segmentor(images)[key])


def test_compile_refuses_keras_losses_and_metrics(config):
    model = build_fada(config)
    with pytest.raises(ValueError, match="computes its own losses"):
        model.compile(segmentor_optimizer=keras.optimizers.SGD(),
                      discriminator_optimizer=keras.optimizers.Adam(), loss="mse")
    with pytest.raises(ValueError, match="metrics"):
        fada_tf.SourceOnlyModel(model.segmentor).compile(keras.optimizers.SGD(), metrics=["acc"])


# Keras fit of a FADAModel under a strategy: one device, or mirrored on two logical CPUs.
FIT_UNDER = """
import json, sys, numpy as np, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
if sys.argv[1] == "mirrored":
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
else:
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
import fada_tf
config = fada_tf.load_config("configs/synthetic.yaml", ["model.tiny_width=4", "model.freeze_bn=true"])
with strategy.scope():
    segmentor = fada_tf.build_segmentor(config.model, 9, seed=0)
    discriminator = fada_tf.build_discriminator(32, 9, channels=(8, 8), seed=1)
    model = fada_tf.FADAModel(segmentor, discriminator, lambda_adv=0.03)
    model.compile(fada_tf.segmentor_optimizer(config.adapt.optimizer, 10),
                  fada_tf.discriminator_optimizer(config.adapt.discriminator_optimizer, 10))
rng = np.random.default_rng(0)
source = rng.normal(size=(6, 32, 64, 3)).astype(np.float32)
labels = rng.integers(0, 9, size=(6, 32, 64)).astype(np.int32)
labels[0, :20] = 255   # the replicas hold different numbers of labelled pixels
target = rng.normal(size=(6, 32, 64, 3)).astype(np.float32)
data = tf.data.Dataset.zip((tf.data.Dataset.from_tensor_slices((source, labels)),
                            tf.data.Dataset.from_tensor_slices(target))).batch(2).repeat()
history = model.fit(data, epochs=1, steps_per_epoch=3, verbose=0, shuffle=False).history
print(json.dumps(history))
"""


@pytest.mark.slow
def test_fit_under_a_mirrored_strategy_reports_the_global_batches_losses(repo):
    """Each replica adds its share of a loss times the replicas to the (sum-aggregated)
    trackers, so two replicas report what one device does on the whole batch."""
    histories = {}
    for strategy in ("one", "mirrored"):
        proc = subprocess.run([sys.executable, "-c", FIT_UNDER, strategy], capture_output=True,
                              text=True, cwd=repo, env={**os.environ, "TF_ENABLE_ONEDNN_OPTS": "0"})
        assert proc.returncode == 0, proc.stderr[-3000:]
        histories[strategy] = json.loads(proc.stdout.strip().splitlines()[-1])
    for name in LOSSES:
        np.testing.assert_allclose(histories["mirrored"][name], histories["one"][name], rtol=1e-5)
