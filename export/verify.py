"""An export proves itself before it is kept: the exported graph against the Keras segmentor.

The reference is computed independently of the exported graph, the way ``fada-tf predict
--run`` segments an image: Pillow's bicubic resize to the working size (when the graph
resizes; RGB bytes, or each channel as a 32-bit float image for a float-input graph),
normalisation in numpy, the Keras segmentor's ``"logits"``, the evaluation's upsampling to
the image's size (``resize_bilinear``), softmax and argmax in numpy. On seeded random images at
each verification size it reports the largest absolute difference of class probabilities and
the fraction of pixels whose label agrees, and raises ``FadaError`` beyond the tolerances.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from PIL import Image

from fada_tf.config.schema import NormalizationConfig
from fada_tf.errors import FadaError
from fada_tf.export import DEFAULT_MIN_AGREEMENT, DEFAULT_TOLERANCE
from fada_tf.models.resize import resize_bilinear
from fada_tf.progress import Progress

IMAGES_PER_SIZE = 2


def verification_sizes(eval_size, size=None, resize: bool = False) -> list[tuple[int, int]]:
    """The fixed ``size``; otherwise the evaluation size and a smaller size not divisible by 8,
    and when the graph resizes (``resize``) also a larger one (both odd: the graph enlarges
    one and shrinks the other to the evaluation size)."""
    if size is not None:
        return [tuple(size)]
    height, width = eval_size
    sizes = [(height, width), (height // 2 + 3, width // 2 + 5)]
    return sizes + [(height + height // 4 + 1, width + width // 4 + 3)] if resize else sizes


def normalize_numpy(images: np.ndarray, norm: NormalizationConfig) -> np.ndarray:
    """uint8 RGB -> float32 network input, as ``fada_tf.data.pipeline.normalize``."""
    x = images.astype(np.float32)
    x = x[..., ::-1] if norm.to_bgr255 else x / np.float32(255.0)
    return (x - np.float32(norm.mean)) / np.float32(norm.std)


def random_images(rng: np.random.Generator, batch: int, size, input_mode: str,
                  norm: NormalizationConfig) -> np.ndarray:
    """Random RGB bytes, or the same normalised for a float-input graph."""
    images = rng.integers(0, 256, (batch, *size, 3), dtype=np.uint8)
    return images if input_mode == "uint8" else normalize_numpy(images, norm)


def pil_resize(images: np.ndarray, size) -> np.ndarray:
    """(N, H, W, 3) images -> (N, *size, 3) with Pillow's bicubic: uint8 as RGB images, floats
    channel by channel as 32-bit float ("F") images."""
    height, width = size
    if images.dtype == np.uint8:
        return np.stack([np.asarray(Image.fromarray(image).resize((width, height), Image.BICUBIC))
                         for image in images])
    return np.stack([np.stack([np.asarray(Image.fromarray(np.ascontiguousarray(image[..., c], np.float32), "F")
                                          .resize((width, height), Image.BICUBIC))
                               for c in range(image.shape[-1])], -1) for image in images])


def reference_logits(segmentor, images: np.ndarray, input_mode: str,
                     norm: NormalizationConfig, resize_to=None) -> np.ndarray:
    """The Keras segmentor's logits at the images' size (what ``predict --run`` computes):
    the images resized to ``resize_to`` first when it is given."""
    x = pil_resize(images, resize_to) if resize_to is not None else images
    x = normalize_numpy(x, norm) if input_mode == "uint8" else x
    # One image at a time: eager ResNet-101 at 512x1024 peaks at ~8 GB an image.
    return np.concatenate([np.asarray(resize_bilinear(segmentor(x[i:i + 1], training=False)["logits"],
                                                      images.shape[1:3])) for i in range(len(x))])


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def compare(reference: np.ndarray, produced: np.ndarray, output: str) -> tuple[float | None, float]:
    """(largest |probability difference| or None for labels, fraction of agreeing labels)."""
    if output == "labels":
        return None, float(np.mean(produced == reference.argmax(axis=-1)))
    expected = softmax(reference)
    probs = softmax(produced) if output == "logits" else produced
    return float(np.abs(probs - expected).max()), float(np.mean(probs.argmax(-1) == expected.argmax(-1)))


def check_parity(run: Callable[[np.ndarray], np.ndarray], segmentor,
                 normalization: NormalizationConfig, *, output: str,
                 input_mode: str, sizes, resize_to=None, tolerance: float = DEFAULT_TOLERANCE,
                 min_agreement: float = DEFAULT_MIN_AGREEMENT, what: str = "export",
                 seed: int = 0, progress: Progress | None = None) -> dict:
    """Compare ``run(images)`` (the exported graph's one output) with the Keras reference.

    ``resize_to``: the working size the graph resizes its input to (None: it does not).
    ``progress`` is updated once per size.
    Raises ``FadaError`` when the largest probability difference exceeds ``tolerance`` or the
    label agreement is below ``min_agreement``; returns the measured numbers otherwise.
    """
    rng = np.random.default_rng(seed)
    diffs, agreements = [], []
    for size in sizes:
        images = random_images(rng, IMAGES_PER_SIZE, size, input_mode, normalization)
        produced = np.asarray(run(images))
        expected_shape = (IMAGES_PER_SIZE, *size) + (() if output == "labels" else (produced.shape[-1],))
        if produced.shape != expected_shape:
            raise FadaError(f"{what}: output shape {produced.shape} at input size {size}, "
                            f"expected {expected_shape}")
        reference = reference_logits(segmentor, images, input_mode, normalization, resize_to=resize_to)
        diff, agreement = compare(reference, produced, output)
        diffs.append(diff)
        agreements.append(agreement)
        if progress is not None:
            progress.update()
    result = {"sizes": [list(s) for s in sizes], "images": IMAGES_PER_SIZE * len(sizes),
              "resize_to": list(resize_to) if resize_to is not None else None,
              "max_prob_diff": None if output == "labels" else max(diffs),
              "label_agreement": min(agreements), "tolerance": tolerance,
              "min_agreement": min_agreement}
    if result["max_prob_diff"] is not None and result["max_prob_diff"] > tolerance:
        raise FadaError(f"{what} differs from Keras: largest probability difference "
                        f"{result['max_prob_diff']:.3g} > tolerance {tolerance:g}")
    if result["label_agreement"] < min_agreement:
        raise FadaError(f"{what} differs from Keras: labels agree on "
                        f"{100 * result['label_agreement']:.3f}% of pixels < {100 * min_agreement:g}%")
    return result


def describe(result: dict) -> str:
    """One line for people: sizes, largest probability difference, label agreement."""
    sizes = ", ".join(f"{h}x{w}" for h, w in result["sizes"])
    sizes = " and ".join(sizes.rsplit(", ", 1))
    through = ("" if not result.get("resize_to")
               else " (resized to {}x{} in the graph, PIL bicubic in the reference)".format(*result["resize_to"]))
    diff = ("" if result["max_prob_diff"] is None
            else f"largest probability difference {result['max_prob_diff']:.2g}, ")
    return (f"parity with Keras on {result['images']} random images at {sizes}{through}: {diff}"
            f"labels agree on {100 * result['label_agreement']:.3f}% of pixels")
