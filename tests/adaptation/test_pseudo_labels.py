"""``fada_tf.adaptation.pseudo_labels``: the teacher's hard predictions, 255 where it is unsure.

Writing them for a split and training the student on them: tests/training/stages/test_distill.py."""

import numpy as np

from fada_tf.adaptation.pseudo_labels import hard_pseudo_labels


def test_hard_pseudo_labels_ignore_unconfident_pixels():
    probabilities = np.array([[0.7, 0.2, 0.1], [0.3, 0.35, 0.35], [0.1, 0.1, 0.8]], np.float32)
    np.testing.assert_array_equal(hard_pseudo_labels(probabilities, 0.0).numpy(), [0, 1, 2])
    np.testing.assert_array_equal(hard_pseudo_labels(probabilities, 0.7).numpy(), [0, 255, 2])
