"""Mixed precision (``run.precision`` / ``--precision``).

The policy is Keras' global dtype policy, set before the models are built: variables stay
float32, layers compute in bfloat16 or float16, and the losses are computed in float32
(``fada_tf.adaptation``). float16 needs loss scaling against underflowing gradients: both
optimisers are wrapped in ``keras.optimizers.LossScaleOptimizer`` (dynamic scale), whose
``scale_loss`` the train steps call.
"""

from __future__ import annotations

import keras


def set_precision(precision: str) -> None:
    keras.config.set_dtype_policy(precision)


def with_loss_scaling(optimizer, precision: str):
    """``optimizer`` wrapped for dynamic loss scaling under mixed_float16, else unchanged."""
    if precision == "mixed_float16":
        return keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer
