"""Tiny raw releases in the real on-disk formats, written by the tests (nothing downloaded).

Every image codes its label in the red channel (``CODE * (train ID + 1)``, 0 where ignored),
so a prepared pair or an augmented crop can be checked for alignment by decoding the red
channel. The train IDs the tests expect come from the tables below, written out here from
the releases' own documentation, independently of fada_tf's tables.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

CODE = 12
# Cityscapes label ID -> train ID (cityscapesScripts labels.py); GTA5 uses the same IDs.
CITYSCAPES_TRAIN_ID = {7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10,
                       24: 11, 25: 12, 26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18}
# SYNTHIA class ID -> synthia16 index (road, sidewalk, building, wall, fence, pole, light, sign,
# vegetation, sky, person, rider, car, bus, motorcycle, bicycle).
SYNTHIA_16 = {3: 0, 4: 1, 2: 2, 21: 3, 5: 4, 7: 5, 15: 6, 9: 7, 6: 8, 1: 9, 10: 10, 17: 11, 8: 12,
              19: 13, 12: 14, 11: 15}
# Cityscapes label ID -> crosscity13 index (road, sidewalk, building, light, sign, vegetation,
# sky, person, rider, car, bus, motorcycle, bicycle).
CROSSCITY_13 = {7: 0, 8: 1, 11: 2, 19: 3, 20: 4, 21: 5, 23: 6, 24: 7, 25: 8, 26: 9, 28: 10, 32: 11, 33: 12}


def expected_train_ids(raw: np.ndarray, table: dict[int, int]) -> np.ndarray:
    out = np.full(raw.shape, 255, np.uint8)
    for value, train_id in table.items():
        out[raw == value] = train_id
    return out


def coded_image(train_ids: np.ndarray, seed: int) -> np.ndarray:
    """RGB uint8: red spells the train ID, green and blue are noise."""
    rng = np.random.default_rng(seed)
    red = np.where(train_ids == 255, 0, (train_ids.astype(np.int32) + 1) * CODE).astype(np.uint8)
    return np.dstack([red, rng.integers(0, 256, train_ids.shape + (2,), dtype=np.uint8)])


def decode_red(red) -> np.ndarray:
    red = np.rint(np.asarray(red, np.float64) / CODE).astype(np.int64) - 1
    return np.where(red < 0, 255, red)


def blocky_values(values, shape, seed, block=4) -> np.ndarray:
    """A label map of ``block``-pixel squares of values drawn from ``values``."""
    rng = np.random.default_rng(seed)
    h, w = shape
    small = rng.choice(np.asarray(values), size=(-(-h // block), -(-w // block)))
    return np.kron(small, np.ones((block, block), small.dtype))[:h, :w]


def save_png(path: Path, array: np.ndarray, mode: str | None = None, palette: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(array.astype(np.uint8), mode="P" if palette else mode)
    if palette:
        image.putpalette([(i * c) % 256 for i in range(256) for c in (7, 13, 29)])
    image.save(path)
    return path


def save_png16_rgb(path: Path, rgb: np.ndarray) -> Path:
    """A 16-bit RGB PNG from scratch (PIL cannot write one): IHDR, one zlib IDAT, IEND."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    h, w, _ = rgb.shape
    rows = b"".join(b"\x00" + rgb[y].astype(">u2").tobytes() for y in range(h))
    data = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def write_gta5(root: Path, count=6, shape=(24, 32), label_shapes=None):
    """GTA5: RGB images, palette labels whose indices are Cityscapes label IDs (0..33).

    ``label_shapes`` {name: (h, w)} writes labels of another size. Returns
    ``{name: (image, expected train IDs)}`` of the pairs whose sizes agree.
    """
    label_shapes = label_shapes or {}
    expected = {}
    for i in range(count):
        name = f"{i + 1:05d}"
        ids = blocky_values(range(34), label_shapes.get(name, shape), seed=i)
        train = expected_train_ids(ids, CITYSCAPES_TRAIN_ID)
        image = coded_image(expected_train_ids(blocky_values(range(34), shape, seed=i), CITYSCAPES_TRAIN_ID), i)
        save_png(root / "images" / f"{name}.png", image)
        save_png(root / "labels" / f"{name}.png", ids, palette=True)
        if name not in label_shapes:
            expected[name] = (image, train)
    return expected


def write_synthia(root: Path, count=5, shape=(24, 32)):
    """SYNTHIA: RGB images; 16-bit RGB labels, class in red, instance IDs > 255 in green, and a
    blue channel holding 3 (road) everywhere, so reading the wrong channel changes the labels."""
    expected = {}
    for i in range(count):
        name = f"{i:07d}"
        ids = blocky_values(range(23), shape, seed=100 + i)
        train = expected_train_ids(ids, SYNTHIA_16)
        label = np.dstack([ids, 300 + blocky_values(range(50), shape, seed=200 + i), np.full(shape, 3)])
        image = coded_image(train, 100 + i)
        save_png(root / "RGB" / f"{name}.png", image)
        save_png16_rgb(root / "GT" / "LABELS" / f"{name}.png", label.astype(np.uint16))
        expected[name] = (image, train)
    return expected


def write_cityscapes(root: Path, counts=(("train", "aachen", 4), ("val", "frankfurt", 3)), shape=(24, 32)):
    """Cityscapes: leftImg8bit RGB images and gtFine label-ID PNGs (plus a colour PNG to ignore)."""
    expected = {}
    for split, city, count in counts:
        for i in range(count):
            stem = f"{city}_000000_{i:06d}"
            seed = 300 + 10 * len(expected) + i
            ids = blocky_values(range(34), shape, seed=seed)
            train = expected_train_ids(ids, CITYSCAPES_TRAIN_ID)
            image = coded_image(train, seed)
            save_png(root / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png", image)
            save_png(root / "gtFine" / split / city / f"{stem}_gtFine_labelIds.png", ids, mode="L")
            save_png(root / "gtFine" / split / city / f"{stem}_gtFine_color.png", image)
            expected[(split, stem)] = (image, train)
    return expected


def write_crosscity(root: Path, train=4, test=3, shape=(24, 32)):
    """One Cross-City city: JPEG images, test labels ``*_eval.png`` holding Cityscapes label IDs
    (fada-tf's default assumption), list files naming the images."""
    expected = {}
    for split, count in (("train", train), ("test", test)):
        folder = split.capitalize()
        names = [f"pic_{split}_{i:04d}" for i in range(count)]
        for i, name in enumerate(names):
            ids = blocky_values(range(34), shape, seed=400 + 10 * (split == "test") + i)
            train_ids = expected_train_ids(ids, CROSSCITY_13)
            image = coded_image(train_ids, 400 + i)
            path = root / "Images" / folder / f"{name}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(path, quality=95)
            if split == "test":
                save_png(root / "Labels" / folder / f"{name}_eval.png", ids, mode="L")
            expected[(split, name)] = (path.read_bytes(), train_ids if split == "test" else None)
        (root / "List").mkdir(parents=True, exist_ok=True)
        (root / "List" / f"{split}.txt").write_text("".join(f"{folder}/{n}.jpg\n" for n in names))
    return expected
