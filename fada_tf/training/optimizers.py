"""Optimisers of paper section 4.3 with the reference's (PyTorch) update rules.

Keras' own SGD differs from ``torch.optim.SGD`` in two ways that matter here: its
``weight_decay`` is decoupled (torch adds ``wd · w`` to the gradient, the paper's setting) and
its momentum ``v = m·v − lr·g`` folds the learning rate into the velocity, which equals torch's
``v = m·v + g; w −= lr·v`` only while the learning rate is constant — not under poly decay.
``TorchSGD`` implements torch's rule exactly and gives variables whose path contains a key of
``lr_multipliers`` a scaled learning rate (the ASPP head at 10×, as the reference's separate
classifier optimiser does).

For Adam, Keras' ``epsilon`` is torch's epsilon scaled by ``sqrt(1 − β2^t)`` ("epsilon hat");
at 1e-8 the difference is far below float32 resolution of the update, so ``keras.optimizers.Adam``
is used as it is.
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


def discriminator_optimizer(cfg: AdamConfig, steps: int) -> keras.optimizers.Adam:
    horizon = cfg.schedule_horizon or steps
    return keras.optimizers.Adam(
        learning_rate=poly_schedule(cfg.learning_rate, cfg.poly_power, horizon),
        beta_1=cfg.beta_1, beta_2=cfg.beta_2, name="discriminator_adam")
