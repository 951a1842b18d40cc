"""fada-tf: fine-grained adversarial domain adaptation (FADA, ECCV 2020) in Keras 3 / TensorFlow.

Importing ``fada_tf`` loads neither TensorFlow nor Keras: the names below that need them are
imported from their modules the first time they are used (PEP 562), as are the subpackages
(``fada_tf.models``, ``fada_tf.adaptation``, ``fada_tf.evaluation``, ``fada_tf.training``)
when they are imported.

Configuration: ``load_config``, ``Config``.
Networks: ``build_segmentor``, ``build_discriminator``, ``feature_channels`` (the segmentor's
feature channels, D's input), ``encoding_channels`` (D's output classes per domain).
Training with Keras ``fit``: ``SourceOnlyModel`` (stage 1 and the distilled student),
``FADAModel`` (stage 2), assembled and compiled from a config by ``build_adaptation_model``;
the optimisers ``segmentor_optimizer`` and ``discriminator_optimizer``; a stage's batches
``stage_batches``.
Training a whole run as ``fada-tf train`` / ``fada-tf distill`` do: ``run_training`` into a
``RunDir``.
Evaluation: ``evaluate`` (mIoU on a dataset of batches), ``evaluate_target`` (on the
configured target split), ``class_table``.

Example (the built-in synthetic shift, a few steps on a CPU)::

    import tensorflow as tf
    import fada_tf

    config = fada_tf.load_config("configs/synthetic.yaml", ["adapt.batch_size=2", "adapt.steps=4"])
    table = fada_tf.class_table(config.data.classes)
    segmentor = fada_tf.build_segmentor(config.model, table.num_classes, seed=0)
    model = fada_tf.build_adaptation_model(config, segmentor, table.num_classes)
    source = fada_tf.stage_batches(config, "adapt", "source", seed=0)
    target = fada_tf.stage_batches(config, "adapt", "target", seed=1000)
    history = model.fit(tf.data.Dataset.zip((source, target)), epochs=2, steps_per_epoch=2)
    print(fada_tf.evaluate_target(config, segmentor, table, verbose=0)["miou"])
    model.save("fada.keras")   # keras.saving.load_model("fada.keras") continues fit

A whole run, as ``fada-tf train --output runs/demo`` does::

    metrics = fada_tf.run_training(config, fada_tf.RunDir.create("runs/demo", config))
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from fada_tf.config import Config, load_config

if TYPE_CHECKING:  # for type checkers and IDEs; at run time these are imported on first use
    from fada_tf.adaptation.encodings import encoding_channels
    from fada_tf.adaptation.fada_model import FADAModel
    from fada_tf.adaptation.source_only import SourceOnlyModel
    from fada_tf.data.classes import class_table
    from fada_tf.data.datasets import stage_batches
    from fada_tf.evaluation.evaluate import evaluate
    from fada_tf.evaluation.target import evaluate_target
    from fada_tf.models.discriminator import build_discriminator
    from fada_tf.models.segmentor import build_segmentor, feature_channels
    from fada_tf.training.optimizers import discriminator_optimizer, segmentor_optimizer
    from fada_tf.training.run import run_training
    from fada_tf.training.run_dir import RunDir
    from fada_tf.training.stages.adapt import build_adaptation_model

# Public name -> the module defining it, imported on first access.
_LAZY = {
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

__all__ = ["Config", "load_config", "FADAModel", "SourceOnlyModel", "encoding_channels",
           "build_segmentor", "feature_channels", "build_discriminator", "segmentor_optimizer",
           "discriminator_optimizer", "build_adaptation_model", "stage_batches", "class_table",
           "evaluate", "evaluate_target", "run_training", "RunDir"]
__version__ = "0.4.0"


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value   # later look-ups find it without calling __getattr__
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
