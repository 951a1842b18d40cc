"""Class-balanced sampling of a labelled source split, with the rule of the reference implementation.

Draws come in sub-epochs of 3,000. Before each draw every class present in the split gets
the weight ``1 / ln(1.01 + d_c)``, where ``d_c`` is the fraction of class c among the
labelled pixels of the images drawn so far in the sub-epoch (0 before the first draw); a
class is drawn with probability proportional to its weight, then the next image containing
it is taken (each class walks through its images in an order shuffled by the seed, reshuffled
when used up). A class not yet drawn weighs 1/ln(1.01) ≈ 100, a class filling every pixel
1/ln(2.01) ≈ 1.4, so rare classes (lights, signs, riders, trains in GTA5) are seen far more
often than their natural frequency. Sub-epoch k is a pure function of (seed, k).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from fada_tf.errors import FadaError

SUB_EPOCH_DRAWS = 3000


def class_weights(frequency: np.ndarray) -> np.ndarray:
    """The weight ``1 / ln(1.01 + d)`` of classes whose running pixel frequency is ``d``."""
    return 1.0 / np.log(1.01 + frequency)


def sub_epoch(class_pixels: np.ndarray, seed: int, index: int,
              draws: int = SUB_EPOCH_DRAWS) -> tuple[np.ndarray, np.ndarray]:
    """``(image indices, drawn classes)`` of sub-epoch ``index``; ``class_pixels`` is (images, classes)."""
    pixels = np.asarray(class_pixels, np.int64)
    present = pixels > 0
    classes = np.flatnonzero(present.any(axis=0))
    if classes.size == 0:
        raise FadaError("class-balanced sampling needs labelled pixels, and this split has none")
    rng = np.random.default_rng([seed, index])
    order = {c: rng.permutation(np.flatnonzero(present[:, c])) for c in classes}
    position = dict.fromkeys(classes.tolist(), 0)
    running = np.zeros(pixels.shape[1], np.float64)
    images, drawn = np.empty(draws, np.int64), np.empty(draws, np.int64)
    for t in range(draws):
        total = running.sum()
        weights = class_weights(running[classes] / total if total else np.zeros(classes.size))
        c = int(classes[rng.choice(classes.size, p=weights / weights.sum())])
        if position[c] == order[c].size:
            order[c], position[c] = rng.permutation(order[c]), 0
        images[t], drawn[t] = order[c][position[c]], c
        position[c] += 1
        running += pixels[images[t]]
    return images, drawn


def class_balanced_indices(class_pixels: np.ndarray, seed: int) -> tf.data.Dataset:
    """The endless stream of image indices: sub-epoch 0, 1, 2, ... of ``sub_epoch``.

    A checkpoint of the stream (``--resume``) records the sub-epoch number and the position in
    it; the sub-epoch itself is recomputed on restore, which is exact because it is a pure
    function of (seed, k) — hence the ``IGNORE`` policy for the numpy function's state.
    """
    def draw(index):
        return sub_epoch(class_pixels, seed, int(index))[0]

    def one_sub_epoch(index):
        images = tf.numpy_function(draw, [index], tf.int64, stateful=False)
        return tf.data.Dataset.from_tensor_slices(tf.ensure_shape(images, [SUB_EPOCH_DRAWS]))

    options = tf.data.Options()
    options.experimental_external_state_policy = tf.data.experimental.ExternalStatePolicy.IGNORE
    return tf.data.Dataset.counter().flat_map(one_sub_epoch).with_options(options)
