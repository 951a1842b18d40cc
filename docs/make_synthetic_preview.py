"""Draw docs/images/synthetic_shift.png: scenes of the built-in shift with their labels.

Run from the repository root::

    python docs/make_synthetic_preview.py
"""

from pathlib import Path

from fada_tf.data.classes import class_table
from fada_tf.data.synthetic import render_split
from fada_tf.visualize import colorize, save_grid

table = class_table("synthetic")
rows = []
for style in ("game", "real"):
    images, labels = render_split(style, 4, seed=2020)
    rows.append(list(images))
    rows.append(list(colorize(labels, table)))
print(save_grid(rows, Path(__file__).parent / "images" / "synthetic_shift.png", scale=2))
