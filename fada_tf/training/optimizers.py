"""Optimisers of paper section 4.3 with the reference's (PyTorch) update rules.

The original (JDAI-CV/FADA train_adv.py:79-86, train_self_distill.py:67-71) trains the feature
extractor with ``torch.optim.SGD(lr, momentum=0.9, weight_decay=5e-4)``, the classifier with the
same at 10× the learning rate, and the discriminator with ``torch.optim.Adam(lr_D, betas=(0.9,
0.99))``; every iteration it overwrites each param group's ``lr`` with the 'poly' value
``base · (1 − it / max_iters)^0.9`` (train_adv.py:148-155, core/solver/build.py:3-8
``adjust_learning_rate``). Keras' own optimisers implement other rules:

* Keras' SGD ``weight_decay`` is decoupled (torch adds ``wd · w`` to the gradient, the paper's
  setting) and its momentum ``v = m·v − lr·g`` folds the learning rate into the velocity, which
  equals torch's ``v = m·v + g; w −= lr·v`` only while the learning rate is constant — not under
  poly decay. ``TorchSGD`` implements torch's rule exactly and gives variables whose path
  contains a key of ``lr_multipliers`` a scaled learning rate (the ASPP head at 10×, as the
  reference's separate classifier optimiser does).
* Keras' Adam adds its ``epsilon`` to ``sqrt(v)`` before the bias correction of ``v`` ("epsilon
  hat", in effect ``ε / sqrt(1 − β2^t)`` on torch's scale) and defaults to 1e-7; torch adds
  ε = 1e-8 to the bias-corrected ``sqrt(v̂)``. On the discriminator's first update (β2 = 0.99,
  so ``sqrt(1 − β2) = 0.1``) that is ``lr·g / (|g| + 1e-6)`` against torch's
  ``lr·g / (|g| + 1e-8)``, which changed the discriminator's first update by 21 % of its norm
  in an earlier measured parity run and D.0's change over two iterations by 6 % in
  tests/adaptation/test_fada_model_vs_torch.py. ``TorchAdam`` implements torch's rule exactly
  (no weight decay, no AMSGrad).

Both are Keras optimisers: their state (iteration count, which drives the poly schedule,
momentum/moment slots) is tracked by ``tf.train.Checkpoint``, they are serialisable and they
work inside ``keras.optimizers.LossScaleOptimizer`` for mixed float16.
"""

from __future__ import annotations

import keras
from keras import ops

from fada_tf.config.schema import AdamConfig, SGDConfig


@keras.saving.register_keras_serializable(package="fada_tf")
class TorchSGD(keras.optimizers.Optimizer):
    """``torch.optim.SGD`` (dampening 0, no Nesterov) with per-variable learning-rate multipliers.

    Per step, for gradient ``g`` of variable ``w`` with multiplier ``s``::

        g = g + weight_decay · w
        v = momentum · v + g
        w = w − s · lr · v
    """

    def __init__(self, learning_rate=0.01, momentum=0.9, l2_weight_decay=0.0,
                 lr_multipliers=None, name="torch_sgd", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.momentum = float(momentum)
        self.l2_weight_decay = float(l2_weight_decay)
        self.lr_multipliers = dict(lr_multipliers or {})

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self.velocities = self.add_optimizer_variables(variables, "velocity")
        self._multipliers = [self.multiplier_for(v.path) for v in variables]

    def multiplier_for(self, path: str) -> float:
        """The learning-rate multiplier of a variable: the first key found in its path, else 1."""
        return next((m for key, m in self.lr_multipliers.items() if key in path), 1.0)

    def update_step(self, gradient, variable, learning_rate):
        index = self._get_variable_index(variable)
        dtype = variable.dtype
        gradient = ops.cast(gradient, dtype)
        if self.l2_weight_decay:
            gradient = gradient + ops.cast(self.l2_weight_decay, dtype) * variable
        velocity = self.velocities[index]
        self.assign(velocity, ops.cast(self.momentum, dtype) * velocity + gradient)
        step = ops.cast(learning_rate, dtype) * ops.cast(self._multipliers[index], dtype)
        self.assign_sub(variable, step * velocity)

    def get_config(self):
        config = super().get_config()
        config.update(momentum=self.momentum, l2_weight_decay=self.l2_weight_decay,
                      lr_multipliers=self.lr_multipliers)
        return config


def poly_schedule(initial: float, power: float, horizon: int):
    """'poly' decay ``lr = initial · (1 − step / horizon)^power``, reaching 0 at ``horizon``."""
    return keras.optimizers.schedules.PolynomialDecay(
        initial_learning_rate=initial, decay_steps=horizon, end_learning_rate=0.0, power=power)


def segmentor_optimizer(cfg: SGDConfig, steps: int) -> TorchSGD:
    """SGD of the segmentor; the schedule horizon defaults to the stage's steps."""
    horizon = cfg.schedule_horizon or steps
    return TorchSGD(
        learning_rate=poly_schedule(cfg.learning_rate, cfg.poly_power, horizon),
        momentum=cfg.momentum, l2_weight_decay=cfg.weight_decay,
        lr_multipliers={"aspp": cfg.head_lr_multiplier}, name="segmentor_sgd")


@keras.saving.register_keras_serializable(package="fada_tf")
class TorchAdam(keras.optimizers.Optimizer):
    """``torch.optim.Adam`` (no weight decay, no AMSGrad, no maximise).

    Per step ``t`` (1, 2, ...), for gradient ``g`` of variable ``w``::

        m = β1 · m + (1 − β1) · g
        v = β2 · v + (1 − β2) · g²
        w = w − lr · (m / (1 − β1^t)) / (sqrt(v) / sqrt(1 − β2^t) + ε)

    i.e. ε is added to the bias-corrected ``sqrt(v̂)``, as torch does (not Keras' "epsilon
    hat"). The slots are named ``momentum`` (m) and ``velocity`` (v) as in Keras' Adam.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 name="torch_adam", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1 = float(beta_1)
        self.beta_2 = float(beta_2)
        self.epsilon = float(epsilon)

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self._momentums, self._velocities = self.add_optimizer_variables(
            variables, ["momentum", "velocity"])

    def update_step(self, gradient, variable, learning_rate):
        index = self._get_variable_index(variable)
        dtype = variable.dtype
        gradient = ops.cast(gradient, dtype)
        lr = ops.cast(learning_rate, dtype)
        step = ops.cast(self.iterations + 1, dtype)
        beta_1, beta_2 = ops.cast(self.beta_1, dtype), ops.cast(self.beta_2, dtype)
        m, v = self._momentums[index], self._velocities[index]
        self.assign(m, beta_1 * m + (1.0 - beta_1) * gradient)
        self.assign(v, beta_2 * v + (1.0 - beta_2) * ops.square(gradient))
        bias_correction_1 = 1.0 - ops.power(beta_1, step)
        bias_correction_2_sqrt = ops.sqrt(1.0 - ops.power(beta_2, step))
        denominator = ops.sqrt(v) / bias_correction_2_sqrt + ops.cast(self.epsilon, dtype)
        self.assign_sub(variable, (lr / bias_correction_1) * m / denominator)

    def get_config(self):
        config = super().get_config()
        config.update(beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon)
        return config


def discriminator_optimizer(cfg: AdamConfig, steps: int) -> TorchAdam:
    """torch's Adam (ε 1e-8) of the discriminator; the schedule horizon defaults to the stage's steps."""
    horizon = cfg.schedule_horizon or steps
    return TorchAdam(
        learning_rate=poly_schedule(cfg.learning_rate, cfg.poly_power, horizon),
        beta_1=cfg.beta_1, beta_2=cfg.beta_2, name="discriminator_adam")
