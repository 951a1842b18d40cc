"""The class-balanced list is the original's (JDAI-CV/FADA core/datasets/gta5.py:34-62), draw for
draw, and its tf.data stream is seeded, reshuffled every pass and checkpointable."""

import numpy as np
import pytest
import tensorflow as tf

from fada_tf.data.sampler import (SUB_EPOCH_DRAWS, class_balanced_indices, class_balanced_list,
                                  class_weights, draw_class)
from fada_tf.errors import FadaError

# 12 images x 5 classes: class 0 nearly everywhere, 1 in 7 images, 2 in 4, 4 in 3, 3 in 2 (rare).
IMAGE_CLASSES = [[0, 1], [0, 1, 2], [0, 3], [0, 1], [0, 4], [1, 2],
                 [0, 1, 2], [0], [0, 2, 4], [0, 1, 3], [0, 4], [1]]


def presence(image_classes, num_classes):
    table = np.zeros((len(image_classes), num_classes), bool)
    for image, classes in enumerate(image_classes):
        table[image, classes] = True
    return table


def original_list(present, max_iters, seed, sub_epoch_size=SUB_EPOCH_DRAWS, out=None):
    """The original loop written out: label-info lists of file names, numpy's global random state
    seeded with ``seed`` (restored afterwards). Appends the drawn image indices to ``out``, so a
    caller sees how far it got when it crashes."""
    out = [] if out is None else out
    num_class = present.shape[1]
    names = [f"{i:05d}.png" for i in range(present.shape[0])]
    label_to_file = [[names[i] for i in np.flatnonzero(present[:, c])] for c in range(num_class)]
    file_to_label = {names[i]: list(np.flatnonzero(present[i])) for i in range(present.shape[0])}
    saved = np.random.get_state()
    np.random.seed(seed)
    try:
        ind = {c: 0 for c in range(num_class)}
        for _ in range(int(max_iters / sub_epoch_size) + 1):
            cur_class_dist = np.zeros(num_class)
            for _ in range(sub_epoch_size):
                if cur_class_dist.sum() == 0:
                    dist1 = cur_class_dist.copy()
                else:
                    dist1 = cur_class_dist / cur_class_dist.sum()
                w = 1 / np.log(1 + 1e-2 + dist1)
                w = w / w.sum()
                c = np.random.choice(num_class, p=w)
                if ind[c] > len(label_to_file[c]) - 1:
                    np.random.shuffle(label_to_file[c])
                    ind[c] = ind[c] % (len(label_to_file[c]) - 1)
                name = label_to_file[c][ind[c]]
                out.append(names.index(name))
                ind[c] += 1
                cur_class_dist[file_to_label[name]] += 1
    finally:
        np.random.set_state(saved)
    return out


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 17])
def test_the_list_is_the_originals_draw_for_draw_across_sub_epochs(seed):
    present = presence(IMAGE_CLASSES, 5)
    ours = class_balanced_list(present, 230, np.random.RandomState(seed), sub_epoch_draws=50)
    assert len(ours) == 250                                    # int(230 / 50) + 1 sub-epochs
    np.testing.assert_array_equal(ours, original_list(present, 230, seed, sub_epoch_size=50))


def test_the_list_is_the_originals_with_the_default_sub_epochs_of_3000():
    present = presence(IMAGE_CLASSES, 5)
    ours = class_balanced_list(present, 3000, np.random.RandomState(5))
    assert len(ours) == 2 * SUB_EPOCH_DRAWS
    np.testing.assert_array_equal(ours, original_list(present, 3000, 5))


def test_a_class_draw_consumes_the_random_stream_as_choice_does():
    rng = np.random.default_rng(0)
    distributions = [rng.dirichlet(np.ones(k)) for k in (2, 5, 19) for _ in range(100)]
    distributions += [class_weights(rng.integers(0, 50, 19).astype(np.float64)) for _ in range(300)]
    ours, theirs = np.random.RandomState(11), np.random.RandomState(11)
    for p in distributions:
        assert draw_class(ours, p) == theirs.choice(len(p), p=p)
    assert ours.random_sample() == theirs.random_sample()     # the states are still in step


def test_a_class_with_one_image_keeps_giving_it_where_the_original_crashes():
    present = presence(IMAGE_CLASSES[:11] + [[4]], 5)          # class 4 only in images 4, 8, 10, 11
    present[[4, 8, 10], 4] = False                              # ... now only in image 11
    ours = class_balanced_list(present, 600, np.random.RandomState(0), sub_epoch_draws=50)
    before_crash = []
    with pytest.raises(ZeroDivisionError):
        original_list(present, 600, 0, sub_epoch_size=50, out=before_crash)
    np.testing.assert_array_equal(ours[:len(before_crash)], before_crash)
    assert ours[len(before_crash)] == 11 and (ours == 11).sum() > 10


def test_a_class_absent_from_the_split_is_never_drawn_and_the_others_are_unchanged():
    with_absent = np.insert(presence(IMAGE_CLASSES, 5), 2, False, axis=1)   # class 2 of 6: nowhere
    ours = class_balanced_list(with_absent, 230, np.random.RandomState(4), sub_epoch_draws=50)
    np.testing.assert_array_equal(ours, original_list(presence(IMAGE_CLASSES, 5), 230, 4, sub_epoch_size=50))


def test_images_containing_a_class_count_not_its_pixels():
    # Images 0-9 hold class 0 (99 % of their pixels) and class 1 (1 %); images 10-19 class 2 only.
    pixels = np.zeros((20, 3), np.int64)
    pixels[:10, 0], pixels[:10, 1], pixels[10:, 2] = 990, 10, 1000
    stream = class_balanced_indices(pixels, seed=0, draws=3000).take(2 * SUB_EPOCH_DRAWS)
    drawn = np.fromiter(stream.as_numpy_iterator(), np.int64)
    # Counting images, classes 0 and 1 rise together and images 0-9 settle at 59 % of the draws;
    # counting pixels, class 1 would stay rare and pull them to 88 %; uniform classes: 67 %.
    assert 0.56 < (drawn < 10).mean() < 0.63
    other_pixels = np.where(pixels > 0, np.random.default_rng(0).integers(1, 10**6, pixels.shape), 0)
    again = class_balanced_indices(other_pixels, seed=0, draws=3000).take(2 * SUB_EPOCH_DRAWS)
    np.testing.assert_array_equal(drawn, list(again.as_numpy_iterator()))


def test_each_class_keeps_its_order_and_pointer_across_sub_epochs():
    # One class per image: class 0 in images 0-4, class 1 in 5-8, class 2 in 9-11.
    present = presence([[0]] * 5 + [[1]] * 4 + [[2]] * 3, 3)
    drawn = class_balanced_list(present, 400, np.random.RandomState(3), sub_epoch_draws=7)
    for c in range(3):
        images = np.flatnonzero(present[:, c])
        n = len(images)
        walk = drawn[present[drawn, c]]
        # First pass in the split's order; then every shuffled pass skips its first image.
        np.testing.assert_array_equal(walk[:n], images)
        later = walk[n:]
        passes = later[:len(later) // (n - 1) * (n - 1)].reshape(-1, n - 1)
        assert len(passes) > 15
        assert all(len(set(p)) == n - 1 for p in passes)
        assert len({tuple(p) for p in passes}) > 1


def test_the_stream_repeats_the_list_in_a_seeded_permutation_every_pass():
    pixels = presence(IMAGE_CLASSES, 5) * 100
    listed = class_balanced_list(pixels > 0, 10, np.random.RandomState(9))

    def three_passes(seed):
        stream = class_balanced_indices(pixels, seed=seed, draws=10).batch(len(listed)).take(3)
        return list(stream.as_numpy_iterator())

    passes = three_passes(9)
    for p in passes:
        np.testing.assert_array_equal(np.sort(p), np.sort(listed))
    assert not np.array_equal(passes[0], listed) and not np.array_equal(passes[0], passes[1])
    np.testing.assert_array_equal(passes, three_passes(9))
    assert not np.array_equal(np.sort(three_passes(10)[0]), np.sort(listed))


def test_a_restored_iterator_continues_the_stream_exactly(tmp_path):
    pixels = presence(IMAGE_CLASSES, 5) * 100
    iterator = iter(class_balanced_indices(pixels, seed=2, draws=10))
    for _ in range(SUB_EPOCH_DRAWS + 100):                     # into the second pass
        next(iterator)
    path = tf.train.Checkpoint(iterator=iterator).write(str(tmp_path / "stream"))
    expected = [int(next(iterator)) for _ in range(SUB_EPOCH_DRAWS)]   # across into the third
    restored = iter(class_balanced_indices(pixels, seed=2, draws=10))
    tf.train.Checkpoint(iterator=restored).read(path).assert_consumed()
    assert [int(next(restored)) for _ in range(SUB_EPOCH_DRAWS)] == expected


def test_a_split_without_labelled_pixels_cannot_be_balanced():
    with pytest.raises(FadaError, match="needs labelled pixels"):
        class_balanced_indices(np.zeros((3, 4)), seed=0, draws=10)
