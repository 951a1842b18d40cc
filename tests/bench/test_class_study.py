"""The class-level study's statistics and its calibration rule (bench/class_study)."""

import numpy as np

from bench.class_study.calibrate import calibration_table, choose
from bench.class_study.shift_statistics import (class_shares, colour_histogram,
                                                diagonal_dominant_rows, feature_shift_cosines,
                                                js_divergence, mean_pairwise, total_variation)


def test_js_divergence_in_bits():
    assert js_divergence([1, 0], [0, 1]) == 1.0  # disjoint: one bit
    assert js_divergence([2, 3, 5], [4, 6, 10]) == 0.0  # unnormalised, equal
    p, q = np.array([0.5, 0.3, 0.2]), np.array([0.1, 0.6, 0.3])
    m = (p + q) / 2
    expected = 0.5 * np.sum(p * np.log2(p / m)) + 0.5 * np.sum(q * np.log2(q / m))
    assert np.isclose(js_divergence(p, q), expected)


def test_class_shares_ignore_unlabelled_pixels():
    labels = np.array([[0, 0, 1], [2, 255, 255]], np.uint8)
    np.testing.assert_allclose(class_shares(labels, 3), [0.5, 0.25, 0.25])


def test_colour_histogram_and_total_variation():
    black = np.zeros((2, 4, 4, 3), np.uint8)
    white = np.full((2, 4, 4, 3), 255, np.uint8)
    half = np.concatenate([black[:1], white[:1]])
    assert total_variation(colour_histogram(black), colour_histogram(white)) == 1.0
    assert np.isclose(total_variation(colour_histogram(black), colour_histogram(half)), 0.5)
    assert colour_histogram(half, bins=4).shape == (64,)


def test_feature_shift_cosines_tell_a_shared_shift_from_opposed_ones():
    source = np.random.default_rng(0).normal(size=(4, 6))
    shared = feature_shift_cosines(source, source + [1, 2, 0, 0, 0, 0])
    np.testing.assert_allclose(shared, np.ones((4, 4)))
    directions = np.array([[1.0, 0, 0, 0, 0, 0], [-1.0, 0, 0, 0, 0, 0], [0, 3.0, 0, 0, 0, 0],
                           [0, 0, 0, 0, 0, 0]])
    cosines = feature_shift_cosines(source, source + directions)
    assert np.isclose(cosines[0, 1], -1) and np.isclose(cosines[0, 2], 0)
    assert np.isnan(cosines[3]).all()  # a class that does not move has no direction
    assert np.isclose(mean_pairwise(cosines), (-1 + 0 + 0) / 3)


def test_diagonal_dominant_rows():
    confusion = np.array([[5, 1, 0], [4, 3, 0], [0, 0, 0]])
    np.testing.assert_array_equal(diagonal_dominant_rows(confusion), [True, False, False])


def row(shift, strength, source_only, gap, dominant=True):
    return {"shift": shift, "strength": strength, "source_only": source_only,
            "oracle": source_only + gap, "gap": gap,
            "qualifies": source_only >= 0.25 and gap >= 0.2 and dominant,
            "diagonal_dominant": {"road": dominant}, "class_share_js": 0.01, "colour_tv": 0.1,
            "feature_shift_cosine": 0.5}


def test_the_calibration_rule():
    rows = [row("appearance", 0.0, 0.18, 0.44),
            row("class_colour", 0.5, 0.55, 0.10), row("class_colour", 1.0, 0.40, 0.25),
            row("class_colour", 1.5, 0.30, 0.35), row("class_colour", 2.0, 0.20, 0.45),
            row("palette_cross", 0.25, 0.5, 0.1), row("palette_cross", 0.75, 0.2, 0.4, False),
            row("class_prior", 0.5, 0.6, 0.02), row("class_prior", 1.0, 0.5, 0.05, False)]
    chosen = choose(rows)
    assert chosen == {"appearance": [0.0], "class_colour": [1.0], "palette_cross": [0.25, 0.75],
                      "class_prior": [0.5]}
    table = calibration_table({"draw": 101, "run_seed": 100, "candidates": rows, "chosen": chosen})
    assert "| class_colour | 1 | 40.0 | 65.0 | 25.0 | none |" in table
    assert "| class_prior | 1 | 50.0 | 55.0 | 5.0 | road |" in table
    assert "class_colour: 1; palette_cross: 0.25, 0.75; class_prior: 0.5" in table
