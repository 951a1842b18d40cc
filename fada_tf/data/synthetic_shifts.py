"""Target domains for the class-level study (docs/class_study.md): the game source moved in one
controlled way, class by class, instead of the default appearance shift.

``data.synthetic.shift`` names the target domain; ``data.synthetic.strength`` sets how far
it moves (unused by ``appearance``):

* ``appearance`` (default) — the "real" style of ``fada_tf.data.synthetic``: palette,
  texture, camera and layout statistics all change, most of it shared by every class;
* ``class_colour`` — the game scenes with per-class colour offsets in opposed directions
  (road and sidewalk darker and warmer, building brighter and cooler, sky paler, vegetation
  towards yellow-brown; poles, signs, people and cars unchanged), scaled by the strength
  (≥ 0), the image-mean colour kept;
* ``palette_cross`` — the game scenes where each object takes its partner class's colours
  (building ↔ vegetation, road ↔ sidewalk, pole ↔ sign, car ↔ person) with chance
  ``strength`` ∈ [0, 1]: the colours stay the game's, only which class wears them changes;
* ``class_prior`` — the game's appearance on denser streets (more cars, people and poles,
  more and taller buildings, fewer trees), interpolated from the game's layout (0) to the
  dense one (1) by the strength ∈ [0, 1].

Shapes and layout rules are the game's in every shift, so class identity stays readable from
them.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import get_args

from fada_tf.config.schema import SyntheticShift
from fada_tf.data.classes import class_table
from fada_tf.data.synthetic import BUILDING, GAME, REAL, ROAD, SIDEWALK, SKY, VEGETATION, Style
from fada_tf.errors import ConfigError

SHIFTS = get_args(SyntheticShift)

# class_colour's RGB offsets (0..255 units) at strength 1; the classes not listed keep theirs.
CLASS_COLOUR_OFFSETS = {
    ROAD: (-10.0, -30.0, -55.0),        # darker, warmer
    SIDEWALK: (-10.0, -30.0, -55.0),
    BUILDING: (25.0, 40.0, 60.0),       # brighter, cooler
    SKY: (60.0, 40.0, 10.0),            # paler
    VEGETATION: (100.0, -25.0, -10.0),  # towards yellow-brown
}

# class_prior's dense street (strength 1); strength 0 is the game's layout.
DENSE_LAYOUT = {"cars": (4, 7), "people": (4, 8), "poles": (4, 7), "trees": (0, 1),
                "building_chance": 1.0, "building_top": (0.0, 0.35)}


def target_style(shift: str, strength: float) -> Style:
    """The target domain's style for ``data.synthetic.shift`` / ``strength``."""
    check_shift(shift, strength)
    if shift == "appearance":
        return REAL
    if shift == "class_colour":
        offsets = tuple(tuple(strength * v for v in CLASS_COLOUR_OFFSETS.get(c, (0.0, 0.0, 0.0)))
                        for c in range(class_table("synthetic").num_classes))
        return replace(GAME, name="class_colour", class_offsets=offsets)
    if shift == "palette_cross":
        return replace(GAME, name="palette_cross", crossing=strength)
    return replace(GAME, name="class_prior", **{key: _between(getattr(GAME, key), dense, strength)
                                                for key, dense in DENSE_LAYOUT.items()})


def check_shift(shift: str, strength: float, key: str = "data.synthetic") -> None:
    """Raise ConfigError naming the key when the shift is unknown or its strength out of range."""
    if shift not in SHIFTS:
        raise ConfigError(f"{key}.shift must be one of {', '.join(SHIFTS)}, got {shift!r}")
    if shift in ("palette_cross", "class_prior") and not 0 <= strength <= 1:
        raise ConfigError(f"{key}.strength must be in [0, 1] for shift {shift}, got {strength}")
    if strength < 0:
        raise ConfigError(f"{key}.strength must be >= 0, got {strength}")


def _between(game, dense, t: float):
    """``game`` moved a fraction ``t`` towards ``dense``: numbers, or pairs of them (counts are
    rounded half up)."""
    if isinstance(game, tuple):
        return tuple(_between(g, d, t) for g, d in zip(game, dense))
    value = game + t * (dense - game)
    return math.floor(value + 0.5) if isinstance(game, int) else value
