"""Class-balanced sampling of a labelled source split, exactly as the reference implementation.

What the original does (JDAI-CV/FADA ``core/datasets/gta5.py``; ``synthia.py`` is identical):
when the dataset is built for training with ``max_iters`` = ``SOLVER.MAX_ITER × BATCH_SIZE``
(``core/datasets/build.py:47``; 250,000 in the source stage, 500,000 in adaptation), it
replaces its image list by a drawn one (gta5.py:34-62). ``label_to_file[c]`` lists the files
containing class c and ``file_to_label[f]`` the classes present in f (the label-info pickle of
``datasets/generate_gta5_label_info.py``). The draws come in ``int(max_iters / 3000) + 1``
sub-epochs of 3,000 (gta5.py:37, 42). Before each draw (gta5.py:45-51) every class gets the
weight ``1 / ln(1.01 + d_c)``, where ``d_c`` is the share of class c among the running
per-class counts of the sub-epoch (all zero before its first draw: equal weights), and one
class is drawn with ``np.random.choice(NUM_CLASS, p=w)`` from numpy's global random state. The
drawn class's next file is taken (gta5.py:53-59): each class keeps a pointer into its file
list across sub-epochs; the first pass follows the label-info order; when the pointer runs
past the end, the list is shuffled in place (``np.random.shuffle``, the shuffled order
persists) and the pointer becomes ``len % (len - 1)``, i.e. 1 — the new order's first file is
skipped (0 for a class with two files). Then every class present in the file counts one
(gta5.py:60): the counts are numbers of drawn images containing a class, not pixels. The list
is then repeated ``ceil(max_iters / len)`` times (gta5.py:73-74), always once, since it holds
more than ``max_iters`` entries, and the training DataLoader (``shuffle=True``, train_src.py,
train_adv.py) reshuffles the whole list every epoch.

How this module reproduces it: ``class_balanced_list`` is that loop over a table of class
presence (images × classes, the split's order standing for the label-info order) with a
``numpy.random.RandomState`` in place of the global state. It consumes the random stream with
the same calls in the same order, so with the same seed the list is identical to the
original's: a class draw is one ``random_sample()`` searched in the normalised cumulative
weights (what ``RandomState.choice(K, p=w)`` does internally, twice as fast; the tests prove
the stream identical), a wrap is ``RandomState.shuffle`` of the class's images. (The original
seeds nothing: its list comes from an unseeded numpy state; here it is a function of the run's
seed.) ``class_balanced_indices`` computes the list once and yields it endlessly, every pass in
a permutation that is a pure function of (seed, pass) — the DataLoader's shuffle.

Deviations, only where the original would crash:

- a class with a single image in the split (the wrap divides by ``len - 1 = 0``) restarts at
  index 0, i.e. always gives that image;
- a class without any image in the split (the original indexes an empty list) cannot be drawn:
  the weights are computed over the present classes only. When every class is present — GTA5
  and SYNTHIA — the weights and the random stream are those of the original.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from fada_tf.config.schema import SUB_EPOCH_DRAWS
from fada_tf.errors import FadaError


def class_weights(counts: np.ndarray) -> np.ndarray:
    """Normalised draw probabilities from a sub-epoch's running per-class image counts
    (gta5.py:45-50): ``1 / ln(1.01 + share)``, all shares 0 before the first draw.

    Computed with the original's numpy operations in its order, so the floats are bit-identical.
    """
    total = counts.sum()
    share = counts.copy() if total == 0 else counts / total
    weights = 1 / np.log(1 + 1e-2 + share)
    return weights / weights.sum()


def draw_class(rng: np.random.RandomState, probabilities: np.ndarray) -> int:
    """``rng.choice(len(probabilities), p=probabilities)``, with the same random stream and result
    (one ``random_sample()`` searched in the normalised cumulative sum, as ``choice`` does) but
    without ``choice``'s argument checks, which cost half of the sampler's time."""
    cdf = probabilities.cumsum()
    cdf /= cdf[-1]
    return int(cdf.searchsorted(rng.random_sample(), side="right"))


def class_balanced_list(present: np.ndarray, draws: int, rng: np.random.RandomState,
                        sub_epoch_draws: int = SUB_EPOCH_DRAWS) -> np.ndarray:
    """The original's drawn list of image indices, before the loader's shuffle (gta5.py:34-62).

    ``present``: (images, classes) bool, class c occurs in image i; ``draws``: the original's
    ``max_iters``, giving ``int(draws / sub_epoch_draws) + 1`` sub-epochs. ``rng`` is advanced
    exactly as the original advances numpy's global state. Classes absent from every image are
    left out of the weights; a class with one image always gives it (module docstring).
    """
    present = np.asarray(present, bool)
    classes = np.flatnonzero(present.any(axis=0))
    if classes.size == 0:
        raise FadaError("class-balanced sampling needs labelled pixels, and this split has none")
    images_of = [np.flatnonzero(present[:, c]) for c in classes]   # label_to_file, split order
    counted = present[:, classes].astype(np.float64)               # file_to_label as 0/1 rows
    pointer = [0] * classes.size
    sub_epochs = int(draws / sub_epoch_draws) + 1
    drawn = np.empty(sub_epochs * sub_epoch_draws, np.int64)
    for sub_epoch in range(sub_epochs):
        counts = np.zeros(classes.size)
        for t in range(sub_epoch * sub_epoch_draws, (sub_epoch + 1) * sub_epoch_draws):
            k = draw_class(rng, class_weights(counts))
            images = images_of[k]
            if pointer[k] == images.size:
                rng.shuffle(images)
                pointer[k] = pointer[k] % (images.size - 1) if images.size > 1 else 0
            drawn[t] = images[pointer[k]]
            pointer[k] += 1
            counts += counted[drawn[t]]
    return drawn


def class_balanced_indices(class_pixels: np.ndarray, seed: int, draws: int) -> tf.data.Dataset:
    """The endless stream of image indices: ``class_balanced_list`` of the classes present in each
    image (``class_pixels > 0``, (images, classes) pixel counts) and ``RandomState(seed)``, pass
    after pass, pass e in the permutation drawn by ``default_rng([seed, e])``.

    The list is computed once, here. A checkpoint of the iterator (``--resume``) holds the pass
    number and the position in it, not the list: the pass is recomputed on restore, which is
    exact because it is a pure function of (seed, pass) — hence the ``IGNORE`` policy for the
    numpy function's state.
    """
    drawn = class_balanced_list(np.asarray(class_pixels) > 0, draws, np.random.RandomState(seed))

    def shuffled(epoch):
        return np.random.default_rng([seed, int(epoch)]).permutation(drawn)

    def one_pass(epoch):
        images = tf.numpy_function(shuffled, [epoch], tf.int64, stateful=False)
        return tf.data.Dataset.from_tensor_slices(tf.ensure_shape(images, [drawn.size]))

    options = tf.data.Options()
    options.experimental_external_state_policy = tf.data.experimental.ExternalStatePolicy.IGNORE
    return tf.data.Dataset.counter().flat_map(one_pass).with_options(options)
