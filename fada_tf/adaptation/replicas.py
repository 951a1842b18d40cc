"""Losses over a global batch split across ``tf.distribute`` replicas.

Keras' optimisers all-reduce gradients with a *sum* over replicas, so each replica must
differentiate its share of the global loss: shares that add up to the loss one device would
compute on the whole global batch. Outside a strategy (one replica) a share is the loss itself.
"""

from __future__ import annotations

import tensorflow as tf


def _replicas() -> int:
    context = tf.distribute.get_replica_context()   # None in a cross-replica context
    return context.num_replicas_in_sync if context is not None else 1


def share_of_mean(local_mean):
    """Share of a mean over equally many elements per replica (the pixel means of eq. 5, 6)."""
    return local_mean / _replicas()


def share_of_ratio(local_total, local_count):
    """Share of ``sum(total) / sum(count)`` over replicas: eq. 3 averages over the *labelled*
    pixels of the global batch, and each replica holds a different number of them."""
    count = tf.cast(local_count, local_total.dtype)
    if _replicas() > 1:
        count = tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, count)
    return local_total / tf.maximum(count, 1.0)


def track_losses(trackers, losses) -> dict:
    """Add this step's ``losses`` (shares, by tracker name) to the ``keras.metrics.Mean``
    trackers and return their means (what ``fit`` logs).

    The metric variables add the replicas' updates, so each replica adds its share times the
    number of replicas (and a count of 1): the sum over replicas is then the global loss with
    a count of the number of replicas. With one replica this is the loss itself.
    """
    replicas = _replicas()
    for tracker in trackers:
        tracker.update_state(losses[tracker.name] * replicas)
    return {tracker.name: tracker.result() for tracker in trackers}
