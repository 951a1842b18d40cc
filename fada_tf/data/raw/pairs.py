"""Read one raw image/label pair into canonical form: verified image bytes and train IDs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from fada_tf.data.raw.common import RawFormat, RawPair, RgbImage, read_rgb
from fada_tf.errors import FadaError


class BadPair(FadaError):
    """A pair that cannot be used as it is; the message names the file and the fault."""


@dataclass(frozen=True)
class CanonicalPair:
    name: str
    image: RgbImage
    train_ids: np.ndarray | None          # (H, W) uint8; None in an unlabelled split
    unknown: dict[int, int]               # raw label value the release does not define -> pixels
    resized_from: tuple[int, int] | None  # (height, width) of a label resized to its image


def read_pair(fmt: RawFormat, pair: RawPair, fix_sizes: bool = False) -> CanonicalPair:
    """Read, verify and map ``pair``; any fault raises BadPair naming the file.

    A label whose size differs from its image's is a fault unless ``fix_sizes``, which
    resizes the train IDs to the image with nearest neighbour (GTA5's few-pixel mismatches).
    """
    for path in (pair.image, pair.label):
        if path is not None and not path.is_file():
            raise BadPair(f"{path}: missing")
    try:
        image = read_rgb(pair.image)
        if pair.label is None:
            return CanonicalPair(pair.name, image, None, {}, None)
        train_ids, unknown = fmt.to_train_ids(fmt.read_label(pair.label))
    except BadPair:
        raise
    except FadaError as err:
        raise BadPair(str(err)) from None
    resized_from = None
    if train_ids.shape != (image.height, image.width):
        if not fix_sizes:
            raise BadPair(f"{pair.label}: label is {train_ids.shape[1]}x{train_ids.shape[0]} but its image "
                          f"is {image.width}x{image.height} (--fix-sizes resizes such labels, nearest neighbour)")
        resized_from = train_ids.shape
        train_ids = np.asarray(Image.fromarray(train_ids).resize((image.width, image.height), Image.NEAREST))
    return CanonicalPair(pair.name, image, train_ids, unknown, resized_from)
