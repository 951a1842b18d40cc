"""What the evaluation measures on one model, stored so that the record in git needs no weights.

``python -m bench.class_study.measure RUN CACHE [--set KEY=VALUE ...]`` measures the newest
model of the training run RUN on the setting the overrides choose (shift, strength, seed) and
writes ``CACHE.npz`` (the per-image confusions, int32, compressed), then ``CACHE.json`` (the
rest), last and atomically: the mark of a complete entry. The evaluation runs it in a fresh
process right after a run is trained, with the run's thread settings, so that a measurement is
stored as soon as its model exists.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import tensorflow as tf

from fada_tf.config import load_config
from fada_tf.config.recipe import eval_size
from fada_tf.data.classes import class_table
from fada_tf.data.datasets import split_pairs
from fada_tf.data.pipeline import evaluation_dataset
from fada_tf.evaluation.ccd import ccd_datasets, class_center_distance
from fada_tf.evaluation.evaluate import predict_labels
from fada_tf.evaluation.metrics import confusion_matrix, summarize
from fada_tf.files import write_json
from fada_tf.training.checkpoints import restore_segmentor
from fada_tf.training.run_dir import RunDir

CCD_IMAGES = 200


def is_cached(cache: Path) -> bool:
    return cache.with_suffix(".json").is_file() and cache.with_suffix(".npz").is_file()


def read_measurement(cache: Path) -> dict:
    """A stored ``measure`` result, its confusions as int64."""
    with np.load(cache.with_suffix(".npz")) as stored:
        confusions = stored["confusions"].astype(np.int64)
    return json.loads(cache.with_suffix(".json").read_text()) | {"confusions": confusions}


def store_measurement(cache: Path, run: Path, config) -> None:
    """``measure`` of ``run`` under ``config`` (the setting's data), written to ``cache``."""
    result = measure(run, config)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(cache.with_suffix(".npz"), confusions=result.pop("confusions").astype(np.int32))
    write_json(cache.with_suffix(".json"), result)  # last and atomically: the mark of a complete entry


def measure(run: Path, config) -> dict:
    """The newest model of ``run`` on the setting of ``config``: ``confusions`` (N, K, K) per
    target val image, ``miou``, ``per_class_iou``, ``mean_ccd``, ``per_class_ccd`` (eq. 9, on
    the same CCD_IMAGES source and target training images for every model) and ``cosine``
    ([step, adv_cosine] per logged window; empty without a gradient probe)."""
    table = class_table(config.data.classes)
    segmentor = restore_segmentor(config, str(RunDir.open(run).latest_checkpoint()))
    confusions = per_image_confusions(segmentor, config, table.num_classes)
    summary = summarize(confusions.sum(0), table)
    datasets, batches = ccd_datasets(config, CCD_IMAGES, seed=0)
    ccd = class_center_distance(segmentor, datasets, table, batches, verbose=0)
    return {"confusions": confusions, "miou": summary["miou"], "per_class_iou": summary["per_class_iou"],
            "mean_ccd": ccd["mean_ccd"], "per_class_ccd": ccd["per_class_ccd"],
            "cosine": logged_scalar(run / "logs" / "adapt", "adv_cosine")}


def per_image_confusions(segmentor, config, num_classes: int) -> np.ndarray:
    """(N, K, K) confusion matrix of every target val image, single scale, in split order."""
    data = evaluation_dataset(split_pairs(config.data, "target", config.data.target.val_split),
                              eval_size(config), config.model.normalization, config.data.eval_batch_size)
    matrices = []
    for images, labels in data:
        predictions = predict_labels(segmentor, images, tf.shape(labels)[1:3]).numpy()
        matrices += [confusion_matrix(label, prediction, num_classes)
                     for label, prediction in zip(labels.numpy(), predictions)]
    return np.stack(matrices)


def logged_scalar(logs: Path, tag: str) -> list[list[float]]:
    """``[[step, value], ...]`` of a TensorBoard scalar in the event files under ``logs``, one
    value per step: a resumed run logs the steps after its last checkpoint again, and the
    newer file (names sort by time) wins."""
    values = {}
    for path in sorted(logs.glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            values.update({event.step: float(tf.make_ndarray(v.tensor))
                           for v in event.summary.value if v.tag == tag})
    return [[step, value] for step, value in sorted(values.items())]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.class_study.measure", description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a finished training run's folder (its newest checkpoint is measured)")
    parser.add_argument("cache", type=Path, help="where to write the measurement: CACHE.json and CACHE.npz")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        help="the setting's overrides (seed, shift, strength), as for fada-tf train")
    args = parser.parse_args()

    store_measurement(args.cache, args.run, load_config(None, args.overrides))


if __name__ == "__main__":
    main()
