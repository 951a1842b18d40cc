"""Pictures: label maps in their dataset's palette, and image grids saved as PNG."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from fada_tf.data.classes import IGNORE_LABEL, ClassTable


def colorize(labels, table: ClassTable) -> np.ndarray:
    """(..., H, W) train IDs → (..., H, W, 3) uint8 colours; ignored pixels are black."""
    palette = np.zeros((256, 3), np.uint8)
    palette[: table.num_classes] = table.colours
    palette[IGNORE_LABEL] = 0
    return palette[np.asarray(labels, np.uint8)]


def save_grid(rows: list[list[np.ndarray]], path: str | Path, scale: int = 1, gap: int = 2) -> Path:
    """Save rows of equally sized uint8 RGB tiles as one PNG, ``gap`` white pixels apart."""
    height, width = rows[0][0].shape[:2]
    columns = max(len(r) for r in rows)
    canvas = np.full((len(rows) * (height + gap) - gap, columns * (width + gap) - gap, 3), 255, np.uint8)
    for r, row in enumerate(rows):
        for c, tile in enumerate(row):
            y, x = r * (height + gap), c * (width + gap)
            canvas[y: y + height, x: x + width] = tile
    image = Image.fromarray(canvas)
    if scale != 1:
        image = image.resize((canvas.shape[1] * scale, canvas.shape[0] * scale), Image.NEAREST)
    path = Path(path)
    image.save(path)
    return path
