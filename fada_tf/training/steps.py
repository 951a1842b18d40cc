"""The compiled training step: the model's ``train_step_losses`` on every replica
(``strategy.run``).

Keras 3 ``fit()`` does not work under ``MultiWorkerMirroredStrategy`` (keras-team/keras#20585),
so every strategy runs this same small function instead: the model's own step
(``FADAModel`` / ``SourceOnlyModel``'s ``train_step_losses``: ``train_step`` without ``fit``'s
loss trackers) per replica, optionally XLA-compiled, and the replicas' loss shares of this
step summed into the global batch's losses.

Input: every worker reads the *global* batch from an ordinary ``tf.data`` iterator and each
replica takes its slice (``experimental_distribute_values_from_function``). A distributed
dataset iterator cannot be checkpointed (tensorflow/tensorflow#56372); this one can, so
``--resume`` continues the data order exactly, and the replicas together see exactly the
batch one device would.
"""

from __future__ import annotations

import tensorflow as tf


def compiled_step(strategy: tf.distribute.Strategy, model, jit: bool = False):
    """``step(iterator) -> {loss name: global loss}``: one optimisation step on ``next(iterator)``.

    ``iterator`` is ``iter(dataset)`` of global batches (nested structures of tensors whose
    first dimension, the batch, is divisible by the number of replicas).
    """
    replica_step = tf.function(model.train_step_losses, jit_compile=jit)

    @tf.function
    def step(iterator):
        batch = next(iterator)
        local = strategy.experimental_distribute_values_from_function(
            lambda context: replica_slice(batch, context.replica_id_in_sync_group,
                                          context.num_replicas_in_sync))
        shares = strategy.run(replica_step, args=(local,))
        return {name: strategy.reduce(tf.distribute.ReduceOp.SUM, share, axis=None)
                for name, share in shares.items()}

    return step


def replica_slice(batch, replica: int, replicas: int):
    """Replica ``replica``'s consecutive slice of every tensor in the global ``batch``."""
    def one(tensor):
        size = tf.shape(tensor)[0] // replicas
        return tensor[replica * size:(replica + 1) * size]
    return tf.nest.map_structure(one, batch)
