"""The built-in synthetic domain shift: deterministic, complete, and really shifted."""

import numpy as np

from fada_tf.data.classes import class_table
from fada_tf.data.synthetic import render_scene, render_split, GAME, REAL

K = class_table("synthetic").num_classes


def test_scenes_are_a_pure_function_of_the_seed():
    a_img, a_lbl = render_scene(REAL, seed=7)
    b_img, b_lbl = render_scene(REAL, seed=7)
    c_img, _ = render_scene(REAL, seed=8)
    np.testing.assert_array_equal(a_img, b_img)
    np.testing.assert_array_equal(a_lbl, b_lbl)
    assert not np.array_equal(a_img, c_img)


def test_shapes_dtypes_and_label_values():
    images, labels = render_split("game", 6, seed=0, height=48, width=96)
    assert images.shape == (6, 48, 96, 3) and images.dtype == np.uint8
    assert labels.shape == (6, 48, 96) and labels.dtype == np.uint8
    assert labels.max() < K


def test_every_class_appears_in_both_domains():
    for style in ("game", "real"):
        _, labels = render_split(style, 40, seed=0)
        assert set(np.unique(labels)) == set(range(K)), style


def class_mean_colours(style):
    images, labels = render_split(style, 40, seed=3)
    return np.stack([images[labels == c].mean(0) for c in range(K)])


def test_the_domains_differ_in_appearance_not_in_label_space():
    game, real = class_mean_colours("game"), class_mean_colours("real")
    # Every class changes its mean colour between the domains by a clearly visible amount.
    assert (np.linalg.norm(game - real, axis=1) > 25).all()
    # The "real" camera adds noise: neighbouring pixels of one class vary more.
    for style, minimum in (("game", 0.0), ("real", 3.0)):
        images, labels = render_split(style, 10, seed=4)
        road = (labels[:, :, 1:] == 0) & (labels[:, :, :-1] == 0)
        diff = np.abs(images[:, :, 1:].astype(int) - images[:, :, :-1].astype(int))[road]
        assert diff.mean() >= minimum
    assert GAME.lane_markings and not REAL.lane_markings
