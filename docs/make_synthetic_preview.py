"""Draw the synthetic shifts' pictures: docs/images/synthetic_shift.png (the default game →
real shift) and docs/images/class_shifts.png (the class-level study's targets), scenes with
their labels.

Run from the repository root::

    python docs/make_synthetic_preview.py
"""

from pathlib import Path

from fada_tf.data.classes import class_table
from fada_tf.data.synthetic import GAME, REAL, render_split
from fada_tf.data.synthetic_shifts import target_style
from fada_tf.visualize import colorize, save_grid

IMAGES = Path(__file__).parent / "images"
table = class_table("synthetic")


def draw(styles, name: str) -> None:
    """Four scenes of each style (the same seeds: the same layouts where the style allows) and
    their labels, two rows per style."""
    rows = []
    for style in styles:
        images, labels = render_split(style, 4, seed=2020)
        rows.append(list(images))
        rows.append(list(colorize(labels, table)))
    print(save_grid(rows, IMAGES / name, scale=2))


draw([GAME, REAL], "synthetic_shift.png")
draw([GAME, target_style("class_colour", 1.0), *(target_style("palette_cross", s) for s in (0.25, 0.5, 0.75)),
      target_style("class_prior", 1.0)], "class_shifts.png")
