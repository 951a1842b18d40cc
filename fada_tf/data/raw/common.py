"""What a raw release reader provides, and the decoding its readers share.

A reader lists ``RawPair``s (expected file paths; missing files are reported by the caller)
and reads a label file into its raw values; ``RawFormat.lookup`` maps raw values to train IDs
of the release's class table and ``RawFormat.known`` says which raw values the release defines
(any other value is counted as unknown and becomes 255).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from fada_tf.data.classes import IGNORE_LABEL
from fada_tf.errors import FadaError

# PIL modes of single-channel images: palette indices, 8-bit and 16/32-bit grey values.
_SINGLE_CHANNEL_MODES = ("P", "L", "I", "I;16", "I;16B")


@dataclass(frozen=True)
class RawPair:
    """One image and its label file in a raw release; ``label`` is None in unlabelled splits."""

    name: str
    image: Path
    label: Path | None


@dataclass(frozen=True)
class RawFormat:
    """How a raw release is laid out and labelled."""

    name: str
    classes: str                                     # class table key of its train IDs
    splits: tuple[str, ...]                          # every split the release has
    list_pairs: Callable[[Path, str], list[RawPair]]
    read_label: Callable[[Path], np.ndarray]         # (H, W) raw label values
    lookup: np.ndarray                               # raw value -> train ID (255 = ignored)
    known: np.ndarray                                # raw value -> defined by the release?
    markers: tuple[str, ...] = ()                    # folders every release root holds
    layout: str = ""                                 # the layout, for messages

    def to_train_ids(self, values: np.ndarray) -> tuple[np.ndarray, dict[int, int]]:
        """Train IDs (uint8) of raw ``values`` and ``{unknown value: pixels}``.

        Values the release does not define become 255 (ignored).
        """
        values = values.astype(np.int64)
        inside = values < self.lookup.size
        safe = np.where(inside, values, 0)
        train_ids = np.where(inside, self.lookup[safe], IGNORE_LABEL).astype(np.uint8)
        unknown = ~(inside & self.known[safe])
        found, counts = np.unique(values[unknown], return_counts=True)
        return train_ids, dict(zip(found.tolist(), counts.tolist()))


def defined_values(values, size: int | None = None) -> np.ndarray:
    """A boolean table marking ``values`` as defined."""
    values = list(values)
    table = np.zeros(size or max(values) + 1, bool)
    table[values] = True
    return table


@dataclass(frozen=True)
class RgbImage:
    """A decoded-and-verified image: the bytes to store, their extension and the size."""

    data: bytes
    extension: str
    height: int
    width: int


def read_rgb(path: Path) -> RgbImage:
    """Read and fully decode an image; PNG/JPEG RGB files are kept byte for byte, others become RGB PNG."""
    data = path.read_bytes()
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (OSError, ValueError, SyntaxError) as err:
        raise FadaError(f"{path}: cannot read image: {err}") from None
    width, height = image.size
    if image.format in ("PNG", "JPEG") and image.mode == "RGB":
        return RgbImage(data, "png" if image.format == "PNG" else "jpg", height, width)
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="PNG")
    return RgbImage(buffer.getvalue(), "png", height, width)


def read_index_png(path: Path) -> np.ndarray:
    """The values of a single-channel label image: palette *indices* for palette PNGs.

    ``tf.io.decode_png`` would expand a palette PNG to its colours; PIL keeps the indices.
    """
    try:
        image = Image.open(path)
        image.load()
    except (OSError, ValueError, SyntaxError) as err:
        raise FadaError(f"{path}: cannot read label: {err}") from None
    if image.mode not in _SINGLE_CHANNEL_MODES:
        raise FadaError(f"{path}: expected a single-channel or palette label image, got mode {image.mode}")
    return np.asarray(image)


def files_by_stem(folder: Path, suffix: str) -> dict[str, Path]:
    """``{name without suffix: path}`` of the files in ``folder`` ending in ``suffix``."""
    return {p.name[: -len(suffix)]: p for p in sorted(folder.glob(f"*{suffix}"))}


def find_release_root(fmt: RawFormat, root: Path) -> Path:
    """``root`` if it holds ``fmt.markers``, else the one folder up to two levels inside it that
    does (the folder a release unpacks to, e.g. SYNTHIA's ``RAND_CITYSCAPES/``); several or
    none is a FadaError that says which folder to pass."""
    if not root.is_dir():
        raise FadaError(f"{root} is not a folder")

    def holds(folder: Path) -> bool:
        return all((folder / marker).is_dir() for marker in fmt.markers)

    if holds(root):
        return root
    inside = [p for p in sorted(root.glob("*")) + sorted(root.glob("*/*")) if p.is_dir() and holds(p)]
    expected = " and ".join(f"{m}/" for m in fmt.markers)
    if len(inside) == 1:
        return inside[0]
    if inside:
        raise FadaError(f"{root} holds {len(inside)} {fmt.name} releases; pass one of: "
                        + ", ".join(str(p) for p in inside))
    raise FadaError(f"{root} is not a {fmt.name} release: it should hold {expected} "
                    f"({fmt.layout}), and no folder inside it does")


def require_folder(folder: Path, release: str, layout: str) -> None:
    if not folder.is_dir():
        raise FadaError(f"{folder} not found: is --root a {release} release ({layout})?")
