"""Label maps as PNG files: saving predictions, and evaluating saved predictions of any model.

A label PNG is single-channel (8-bit grey or palette) and holds train IDs, 255 = ignore in a
ground truth and "no class" in a prediction (a miss, as the official Cityscapes evaluation
counts void predictions; see ``fada_tf.evaluation.metrics``).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
from PIL import Image

from fada_tf.data.classes import IGNORE_LABEL, ClassTable
from fada_tf.errors import FadaError
from fada_tf.evaluation.metrics import confusion_matrix, summarize
from fada_tf.files import atomic_output
from fada_tf.progress import Progress
from fada_tf.visualize import colorize

LABELS, COLOURS = "labels", "color"


class PredictionWriter:
    """Writes each predicted label map as ``DIR/labels/NAME.png`` (train IDs) and
    ``DIR/color/NAME.png`` (dataset palette); names are the split order, ``00000``, ``00001``, …

    A context manager: files go to ``.partial-DIR`` (``fada_tf.files.atomic_output``), renamed
    to ``DIR`` when the block ends normally and removed when it raises, so no half-filled
    folder is left behind.
    """

    def __init__(self, folder: str | Path, table: ClassTable):
        self.folder, self.table = Path(folder), table
        if self.folder.exists():
            raise FadaError(f"{self.folder} already exists; choose another folder for the predictions")
        self.count = 0
        self._output = contextlib.ExitStack()

    def __enter__(self) -> "PredictionWriter":
        self.partial = self._output.enter_context(atomic_output(self.folder))
        for sub in (LABELS, COLOURS):
            (self.partial / sub).mkdir(parents=True)
        return self

    def __exit__(self, error_type, error, traceback) -> None:
        self._output.__exit__(error_type, error, traceback)

    def __call__(self, predictions: np.ndarray) -> None:
        for prediction in predictions:
            name = f"{self.count:05d}.png"
            write_label_png(self.partial / LABELS / name, prediction)
            Image.fromarray(colorize(prediction, self.table)).save(self.partial / COLOURS / name)
            self.count += 1


def write_label_png(path: str | Path, labels) -> None:
    """Save (H, W) train IDs as an 8-bit grey PNG."""
    Image.fromarray(np.asarray(labels, np.uint8)).save(path)


def read_label_png(path: str | Path) -> np.ndarray:
    """(H, W) uint8 train IDs of a single-channel label PNG; anything else is a FadaError."""
    try:
        image = Image.open(path)
        image.load()
    except (OSError, ValueError) as err:
        raise FadaError(f"{path}: not a readable image ({err})") from None
    if image.mode not in ("L", "P"):
        raise FadaError(f"{path}: a label PNG must be single-channel train IDs, got mode {image.mode}")
    return np.asarray(image, np.uint8)


def label_file_pairs(predictions: str | Path, labels: str | Path) -> list[tuple[Path, Path]]:
    """(prediction, label) paths: every ``*.png`` under ``labels`` with the prediction of the same
    relative path under ``predictions``."""
    predictions, labels = Path(predictions), Path(labels)
    for folder in (predictions, labels):
        if not folder.is_dir():
            raise FadaError(f"{folder} is not a folder")
    label_paths = sorted(labels.rglob("*.png"))
    if not label_paths:
        raise FadaError(f"{labels} holds no .png label files")
    pairs = [(predictions / p.relative_to(labels), p) for p in label_paths]
    missing = [p for p, _ in pairs if not p.is_file()]
    if missing:
        raise FadaError(f"{len(missing)} of {len(pairs)} labels have no prediction of the same "
                        f"name, e.g. {missing[0]}")
    return pairs


def evaluate_label_files(predictions: str | Path, labels: str | Path, table: ClassTable,
                         verbose: int = 1) -> dict:
    """mIoU of saved prediction PNGs against label PNGs (same relative paths), one image at a time.

    Returns ``summarize(...)`` plus ``num_images``.
    """
    k = table.num_classes
    pairs = label_file_pairs(predictions, labels)
    confusion = np.zeros((k, k + 1), np.int64)
    with Progress(len(pairs), "evaluate", "image", verbose) as progress:
        for prediction_path, label_path in pairs:
            prediction, label = read_label_png(prediction_path), read_label_png(label_path)
            if prediction.shape != label.shape:
                raise FadaError(f"{prediction_path} is {prediction.shape[1]}x{prediction.shape[0]} but "
                                f"{label_path} is {label.shape[1]}x{label.shape[0]}")
            for path, values in ((label_path, label), (prediction_path, prediction)):
                wrong = values[(values >= k) & (values != IGNORE_LABEL)]
                if wrong.size:
                    raise FadaError(f"{path} holds {wrong[0]}, not a train ID of {table.key} "
                                    f"(0..{k - 1}) or {IGNORE_LABEL}")
            confusion += confusion_matrix(label, prediction, k, count_misses=True)
            progress.update()
    result = summarize(confusion, table)
    result["num_images"] = len(pairs)
    return result
