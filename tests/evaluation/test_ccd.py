"""Class Center Distance (eq. 9) against a direct numpy transcription and a closed form."""

import numpy as np
import pytest
import tensorflow as tf

from fada_tf.config.schema import ModelConfig
from fada_tf.data.classes import ClassTable
from fada_tf.evaluation.ccd import ClassCenterStats, class_center_distance, labels_at, random_subset
from fada_tf.models import build_segmentor

TABLE = ClassTable("four", ("a", "b", "c", "d"), ((1, 1, 1),) * 4)


def eq9(features, labels, k):
    """Eq. 9 written out: for each class i with features S_i, the mean squared distance to μ_i
    over ‖μ_i − μ_j‖², averaged over the other classes j present; None for absent classes."""
    centres = {i: features[labels == i].mean(0) for i in range(k) if np.any(labels == i)}
    result = []
    for i in range(k):
        if i not in centres or len(centres) < 2:
            result.append(None)
            continue
        spread = np.mean([np.sum((x - centres[i]) ** 2) for x in features[labels == i]])
        result.append(np.mean([spread / np.sum((centres[i] - centres[j]) ** 2) for j in centres if j != i]))
    return result


def test_closed_form_two_classes():
    stats = ClassCenterStats(2, 1)
    stats.update(np.array([[0.0], [2.0], [10.0], [12.0]]), np.array([0, 0, 1, 1]))
    # spread 1 for each class, centres 1 and 11: CCD = 1 / 100.
    np.testing.assert_allclose(stats.ccd(), [0.01, 0.01])


def test_streamed_statistics_match_eq9_with_ignored_and_absent_classes():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(600, 5)) * 2 + rng.normal(size=(1, 5)) * 10
    labels = rng.choice([0, 1, 3, 255], size=600)        # class 2 absent, 255 ignored
    features[labels == 1] += 3.0
    stats = ClassCenterStats(4, 5)
    for chunk in np.array_split(np.arange(600), 7):
        stats.update(features[chunk].astype(np.float32), labels[chunk])
    expected = eq9(features.astype(np.float32).astype(np.float64), labels, 4)
    got = stats.ccd()
    assert np.isnan(got[2]) and expected[2] is None
    np.testing.assert_allclose(got[[0, 1, 3]], [expected[i] for i in (0, 1, 3)], rtol=1e-9)


def test_a_class_alone_has_no_distance():
    stats = ClassCenterStats(3, 2)
    stats.update(np.ones((4, 2)), np.array([1, 1, 1, 255]))
    assert np.isnan(stats.ccd()).all()


def test_labels_reach_feature_resolution_by_corner_aligned_nearest_neighbour():
    labels = np.random.default_rng(1).integers(0, 200, size=(2, 65, 129)).astype(np.int32)
    got = labels_at(labels, (9, 17)).numpy()
    rows = np.floor(np.arange(9) * 64 / 8 + 0.5).astype(int)
    cols = np.floor(np.arange(17) * 128 / 16 + 0.5).astype(int)
    np.testing.assert_array_equal(got, labels[:, rows][:, :, cols])


def test_class_center_distance_of_a_model_matches_eq9_on_its_features():
    segmentor = build_segmentor(ModelConfig(backbone="tiny", tiny_width=4), 4, seed=0)
    rng = np.random.default_rng(2)
    domains = []
    for shift in (0.0, 0.5):   # a "source" and a "target" split, pooled by eq. 9
        images = (rng.normal(size=(3, 32, 48, 3)) + shift).astype(np.float32)
        labels = rng.choice([0, 1, 2, 3, 255], size=(3, 32, 48)).astype(np.int32)
        domains.append((images, labels))
    datasets = [tf.data.Dataset.from_tensor_slices(d).batch(2) for d in domains]
    result = class_center_distance(segmentor, datasets, TABLE, verbose=0)

    features, labels = [], []
    for images, full in domains:
        f = segmentor(images)["features"].numpy()
        h, w = f.shape[1:3]
        rows = np.floor(np.arange(h) * 31 / (h - 1) + 0.5).astype(int)
        cols = np.floor(np.arange(w) * 47 / (w - 1) + 0.5).astype(int)
        features.append(f.reshape(-1, f.shape[-1]))
        labels.append(full[:, rows][:, :, cols].ravel())
    expected = eq9(np.concatenate(features).astype(np.float64), np.concatenate(labels), 4)
    assert result["num_images"] == 6
    assert list(result["per_class_ccd"].values()) == pytest.approx(expected, rel=1e-6)
    assert result["mean_ccd"] == pytest.approx(np.mean(expected), rel=1e-6)


def test_random_subset_draws_distinct_images_reproducibly():
    pairs = tf.data.Dataset.range(20)
    subset, count = random_subset(pairs, 5, seed=3)
    picked = list(subset.as_numpy_iterator())
    assert count == 5 and len(set(picked)) == 5 and picked == sorted(picked)
    assert picked == list(random_subset(pairs, 5, seed=3)[0].as_numpy_iterator())
    assert picked != list(random_subset(pairs, 5, seed=4)[0].as_numpy_iterator())
    assert random_subset(pairs, 50, seed=3)[1] == 20
