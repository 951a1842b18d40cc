"""Pictures: label maps in their dataset's palette, overlays, image grids, the CCD bar chart."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from fada_tf.data.classes import IGNORE_LABEL, ClassTable
from fada_tf.errors import FadaError
from fada_tf.files import atomic_output


def colorize(labels, table: ClassTable) -> np.ndarray:
    """(..., H, W) train IDs → (..., H, W, 3) uint8 colours; ignored pixels are black."""
    palette = np.zeros((256, 3), np.uint8)
    palette[: table.num_classes] = table.colours
    palette[IGNORE_LABEL] = 0
    return palette[np.asarray(labels, np.uint8)]


def overlay(image, colours, alpha: float = 0.5) -> np.ndarray:
    """Blend a uint8 RGB image with a colour-coded label map of the same size."""
    blended = (1 - alpha) * np.asarray(image, np.float32) + alpha * np.asarray(colours, np.float32)
    return np.round(blended).astype(np.uint8)


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
    with atomic_output(path) as partial:
        image.save(partial, format="PNG")
    return path


def plot_ccd(runs: dict[str, dict], path: str | Path) -> Path:
    """Bar chart of the Class Center Distance per class, one bar per run (paper Figure 4).

    ``runs`` maps a run's title to its ``class_center_distance`` result; classes without a
    value get no bar. Needs matplotlib (``pip install 'fada-tf[plot]'``); the figure is drawn
    with matplotlib's object API, so no global backend is changed.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise FadaError("--plot needs matplotlib: pip install 'fada-tf[plot]'") from None
    names = list(next(iter(runs.values()))["per_class_ccd"])
    figure = Figure(figsize=(max(6.0, 0.7 * len(names) + 2), 4.0), layout="constrained")
    FigureCanvasAgg(figure)
    draw_ccd(figure.add_subplot(), runs)
    path = Path(path)
    with atomic_output(path) as partial:
        figure.savefig(partial, dpi=120, format=path.suffix.lstrip(".") or "png")
    return path


def draw_ccd(axes, runs: dict[str, dict]) -> None:
    """``plot_ccd``'s bars on matplotlib ``axes`` (for a figure of several panels)."""
    names = list(next(iter(runs.values()))["per_class_ccd"])
    width = 0.8 / len(runs)
    for r, (title, result) in enumerate(runs.items()):
        values = [result["per_class_ccd"][n] for n in names]
        xs = [c + (r - (len(runs) - 1) / 2) * width for c, v in enumerate(values) if v is not None]
        mean = result["mean_ccd"]
        label = f"{title} (mean {mean:.2f})" if mean is not None else title
        axes.bar(xs, [v for v in values if v is not None], width, label=label)
    axes.set_xticks(range(len(names)), names, rotation=45, ha="right")
    axes.set_ylabel("Class Center Distance (eq. 9)")
    axes.legend()
