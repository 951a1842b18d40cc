"""The class-level shifts of the synthetic generator: each moves what it says and nothing else."""

import hashlib
from dataclasses import replace

import numpy as np
import pytest

from fada_tf.config import load_config
from fada_tf.data.classes import class_table
from fada_tf.data.datasets import synthetic_split
from fada_tf.data.synthetic import (BUILDING, CAR, GAME, PARTNERS, PERSON, POLE, REAL, ROAD,
                                    SIDEWALK, SIGN, SKY, VEGETATION, render_scene, render_split)
from fada_tf.data.synthetic_shifts import CLASS_COLOUR_OFFSETS, target_style
from fada_tf.errors import ConfigError

K = class_table("synthetic").num_classes


def class_means(images, labels):
    """(K, 3) mean colour of each class's pixels."""
    return np.stack([images[labels == c].mean(0) for c in range(K)])


def class_shares(labels):
    return np.bincount(labels.ravel(), minlength=K) / labels.size


def colour_histogram(images, bins=8):
    quantised = images.reshape(-1, 3).astype(int) * bins // 256
    codes = (quantised[:, 0] * bins + quantised[:, 1]) * bins + quantised[:, 2]
    return np.bincount(codes, minlength=bins ** 3) / len(codes)


# sha256 of render_split(style, 4, seed=2020), images then labels, as version 0.4.0 drew them
# (the figures of docs/synthetic.md were measured on these scenes).
DEFAULT_SCENES = {"game": "cac1c1b86ca34cccd1ea398dd613a494be1a3639fe51bc30653151eedd19da69",
                  "real": "fb09c569ac2541b16b0a62befb6e3f95e12d3f56f20fc016b0d7eb095529a66e"}


def test_the_default_shift_draws_the_scenes_it_always_drew():
    assert target_style("appearance", 0.9) is REAL
    for style, digest in DEFAULT_SCENES.items():
        images, labels = render_split(style, 4, seed=2020)
        assert hashlib.sha256(images.tobytes() + labels.tobytes()).hexdigest() == digest, style


def test_class_colour_moves_each_class_by_its_offset_and_keeps_the_image_mean():
    strength = 0.8
    style = target_style("class_colour", strength)
    # Without the exposure factor, the offsets appear unscaled.
    flat_game, flat_style = (replace(s, exposure=(1.0, 1.0)) for s in (GAME, style))
    for seed in range(5):
        game_image, game_label = render_scene(flat_game, seed)
        image, label = render_scene(flat_style, seed)
        np.testing.assert_array_equal(label, game_label)  # same scene, other colours
        offsets = np.zeros((K, 3))
        for c, offset in CLASS_COLOUR_OFFSETS.items():
            offsets[c] = strength * np.asarray(offset)
        expected = game_image + offsets[label] - offsets[label].mean(axis=(0, 1))
        unclipped = ((expected > 1) & (expected < 254) & (game_image > 0) & (game_image < 255)).all(-1)
        assert unclipped.mean() > 0.7
        # uint8 rounding of the game's and the shifted float colours: at most 1 apart.
        assert np.abs(image[unclipped] - expected[unclipped]).max() <= 1.0 + 1e-6
        assert abs(image.mean() - game_image.mean()) < 6  # clipping alone moves the mean
    # Opposed directions: the classes' colour shifts are far from one common shift.
    images, labels = render_split(style, 20, seed=1)
    game_images, _ = render_split(GAME, 20, seed=1)
    moved = class_means(images, labels) - class_means(game_images, labels)
    assert moved[SKY] @ moved[0] < 0 and moved[BUILDING] @ moved[0] < 0


def test_palette_cross_swaps_partner_colours_without_changing_the_colour_histogram():
    game_images, game_labels = render_split(GAME, 40, seed=3)
    game = class_means(game_images, game_labels)
    none = target_style("palette_cross", 0.0)
    np.testing.assert_array_equal(render_scene(none, 11)[0], render_scene(GAME, 11)[0])

    crossed_images, crossed_labels = render_split(target_style("palette_cross", 1.0), 40, seed=3)
    crossed = class_means(crossed_images, crossed_labels)
    # Every paired class wears its partner's colours (cars and clothes share their kind of
    # palette, and a car's mean includes its dark cabin and wheels: not compared).
    for c in (BUILDING, VEGETATION, ROAD, SIDEWALK, POLE, SIGN):
        partner = PARTNERS[c]
        assert np.linalg.norm(crossed[c] - game[partner]) < np.linalg.norm(crossed[c] - game[c]), c
    np.testing.assert_allclose(crossed[SKY], game[SKY], atol=8)  # sky has no partner

    # Halfway, the colours are still the game's: the pooled colour histogram moves far less
    # than under the default appearance shift.
    half_images, _ = render_split(target_style("palette_cross", 0.5), 40, seed=3)
    real_images, _ = render_split(REAL, 40, seed=3)
    source = colour_histogram(game_images)
    total_variation = lambda images: 0.5 * np.abs(colour_histogram(images) - source).sum()
    assert total_variation(half_images) < 0.5 * total_variation(real_images)


def test_class_prior_moves_class_shares_towards_dense_streets_with_the_game_look():
    shares = {s: class_shares(render_split(target_style("class_prior", s), 60, seed=5)[1])
              for s in (0.0, 0.5, 1.0)}
    for c in (CAR, PERSON, POLE, BUILDING):
        assert shares[0.0][c] < shares[0.5][c] < shares[1.0][c], c
    for c in (SKY, VEGETATION):
        assert shares[0.0][c] > shares[0.5][c] > shares[1.0][c], c
    # Strength 0 is the game itself.
    np.testing.assert_array_equal(render_scene(target_style("class_prior", 0.0), 2)[0],
                                  render_scene(GAME, 2)[0])


def test_the_oracle_source_is_drawn_in_the_target_style():
    overrides = ["data.synthetic.shift=class_colour", "data.synthetic.strength=1",
                 "data.synthetic.source_images=30", "data.synthetic.target_train_images=30"]
    plain = load_config(None, overrides).data
    oracle = load_config(None, [*overrides, "data.synthetic.oracle=true"]).data
    target = class_means(*synthetic_split(plain, "target", "train"))
    source = class_means(*synthetic_split(plain, "source", "train"))
    oracle_source = class_means(*synthetic_split(oracle, "source", "train"))
    distance = lambda a, b: np.linalg.norm(a - b, axis=1).mean()  # over the classes
    assert distance(oracle_source, target) < 0.25 * distance(source, target)
    # Other scenes than the target's own training split.
    assert not np.array_equal(synthetic_split(oracle, "source", "train")[1],
                              synthetic_split(oracle, "target", "train")[1])


@pytest.mark.parametrize("shift, strength, message", [
    ("palette_cross", 1.5, "data.synthetic.strength must be in [0, 1] for shift palette_cross, got 1.5"),
    ("class_prior", -0.1, "data.synthetic.strength must be in [0, 1] for shift class_prior, got -0.1"),
    ("class_colour", -1, "data.synthetic.strength must be >= 0, got -1"),
])
def test_a_strength_out_of_range_is_an_error_naming_the_key(shift, strength, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_config(None, [f"data.synthetic.shift={shift}", f"data.synthetic.strength={strength}"])
