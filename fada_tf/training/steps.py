"""The compiled training step: a Keras ``train_step`` run on every replica by ``strategy.run``.

Keras 3 ``fit()`` does not work under ``MultiWorkerMirroredStrategy`` (keras-team/keras#20585),
so every strategy runs this same small function instead: the model's own ``train_step``
(``FADAModel`` / ``SourceOnlyModel``) per replica, optionally XLA-compiled, and the replicas'
loss shares summed into the global batch's losses.
"""

from __future__ import annotations

import tensorflow as tf


def compiled_step(strategy: tf.distribute.Strategy, model, jit: bool = False):
    """``step(iterator) -> {loss name: global loss}``: one optimisation step on ``next(iterator)``.

    ``iterator`` comes from ``iter(strategy.experimental_distribute_dataset(dataset))``.
    """
    replica_step = tf.function(model.train_step, jit_compile=jit)

    @tf.function
    def step(iterator):
        shares = strategy.run(replica_step, args=(next(iterator),))
        return {name: strategy.reduce(tf.distribute.ReduceOp.SUM, share, axis=None)
                for name, share in shares.items()}

    return step


def distribute(strategy: tf.distribute.Strategy, dataset: tf.data.Dataset) -> tf.data.Dataset:
    """``dataset`` (batched with the global batch size) split over the strategy's replicas.

    Workers shard by data (every worker reads the same stream and keeps its part of each
    global batch), so the replicas together see exactly the global batch one device would.
    """
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return strategy.experimental_distribute_dataset(dataset.with_options(options))
