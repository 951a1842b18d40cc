"""Step 3: the evaluation runs on the default draw of scenes, and what is measured on each.

Per seed of EVALUATION_SEEDS: one source-only model, shared by every shift and method (the
source does not depend on the shift). Per evaluated setting and seed: the oracle (a source
stage on labelled scenes in the target's style), the λ_adv = 0 control, and binary, hard and
soft with their tuned settings, each an adaptation stage from that seed's source-only model
(the same data order). The soft and binary runs carry a gradient probe with the other
encoding (``adapt.probe_encoding``; it does not change the run, tests/adaptation/
test_gradient_probe.py). On STRONG_SHIFT, binary and soft also run at STRONG_FACTOR × their
tuned λ_adv (``strong_run`` names them), for the registered prediction on that shift.

Measured on every model, for every setting it belongs to (``measurements/SEED/SETTING/RUN``
``.json`` and ``.npz``, reused when present, so that the record in git needs no weights): the per-image confusion matrices on the target val split (for the
bootstrap), per-class IoU, CCD per class on the same 200 source + 200 target training images,
and the probe's ``adv_cosine`` per logged window (the run's TensorBoard scalars).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import tensorflow as tf

from bench.class_study.design import (EVALUATION_SEEDS, METHODS, PROBES, STRONG_FACTOR,
                                      STRONG_METHODS, STRONG_SHIFT, evaluated_settings,
                                      method_overrides, setting_name, shift_overrides,
                                      strong_run, tuning_setting)
from bench.common import Training, final_checkpoint, finished, train_runs
from fada_tf.training.run_dir import RunDir
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

RUNS = ("source", "control", *METHODS, "oracle")
CCD_IMAGES = 200


def evaluate_study(output: Path, calibration: dict, tuning: dict, seeds=EVALUATION_SEEDS,
                   overrides: list[str] = (), jobs: int = 1) -> dict:
    """Train what is missing under ``output`` (``jobs`` runs at a time), measure every model;
    return ``{setting: {run: {seed: measurement}}}`` (``measure``'s dicts, confusions as
    arrays). A run whose measurements are all stored needs only its ``metrics.json``."""
    sources, trainings, measured = {}, {}, {}
    for seed in seeds:
        base = [f"run.seed={seed}", *overrides]
        sources[seed] = Training(output / f"seed{seed}" / "source", [*base, "run.stages=[source]"])
        init = f"adapt.init_checkpoint={final_checkpoint(sources[seed])}"
        for shift, strength in evaluated_settings(calibration):
            name = setting_name(shift, strength)
            shifted = [*base, *shift_overrides(shift, strength)]
            folder = output / f"seed{seed}" / name
            tuned = tuning["settings"][setting_name(*tuning_setting(shift, strength))]
            runs = setting_runs(shift, shifted, init, tuned)
            config = load_config(None, shifted)
            for run_name in ("source", *runs):
                cache = output / "measurements" / f"seed{seed}" / name / run_name
                measured[seed, name, run_name] = (cache, config)
                if run_name != "source":
                    trainings[seed, name, run_name] = Training(folder / run_name, runs[run_name],
                                                               needs_weights=not is_cached(cache))
    for seed, source in sources.items():  # its weights: to start an adaptation run, or to measure it
        starts = any(not finished(training) for (s, _, run), training in trainings.items()
                     if s == seed and run != "oracle")
        unmeasured = any(not is_cached(cache) for (s, _, run), (cache, _) in measured.items()
                         if s == seed and run == "source")
        sources[seed] = source._replace(needs_weights=starts or unmeasured)
    train_runs(list(sources.values()), jobs)
    train_runs(list(trainings.values()), jobs)
    results = {}
    for (seed, name, run_name), (cache, config) in measured.items():
        run = sources[seed] if run_name == "source" else trainings[seed, name, run_name]
        results.setdefault(name, {}).setdefault(run_name, {})[seed] = cached_measure(cache, run.output, config)
    return results


def setting_runs(shift: str, shifted: list[str], init: str, tuned: dict) -> dict[str, list[str]]:
    """The overrides of every trained run of one setting and seed, by run name: ``shifted``
    chooses the seed and the shift, ``init`` the source-only checkpoint, ``tuned`` holds each
    method's ``lambda_adv`` and ``discriminator_lr``."""
    adapt = [*shifted, "run.stages=[adapt]", init]
    runs = {"oracle": [*shifted, "data.synthetic.oracle=true", "run.stages=[source]"],
            "control": [*adapt, "adapt.lambda_adv=0"]}
    for method in METHODS:
        probe = [f"adapt.probe_encoding={PROBES[method]}"] if method in PROBES else []
        runs[method] = [*adapt, *probe, *method_overrides(method, tuned[method]["lambda_adv"],
                                                          tuned[method]["discriminator_lr"])]
    for method in STRONG_METHODS if shift == STRONG_SHIFT else ():
        strong_lambda = round(STRONG_FACTOR * tuned[method]["lambda_adv"], 12)
        runs[strong_run(method)] = [*adapt, *method_overrides(method, strong_lambda,
                                                              tuned[method]["discriminator_lr"])]
    return runs


def is_cached(cache: Path) -> bool:
    return cache.with_suffix(".json").is_file() and cache.with_suffix(".npz").is_file()


def cached_measure(cache: Path, run: Path, config) -> dict:
    """``measure`` of ``run`` under ``config`` (the setting's data), stored in ``cache``
    (``.json``, and the confusions compressed in ``.npz``)."""
    if not is_cached(cache):
        result = measure(run, config)
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(cache.with_suffix(".npz"), confusions=result.pop("confusions").astype(np.int32))
        write_json(cache.with_suffix(".json"), result)  # last and atomically: the mark of a complete entry
    with np.load(cache.with_suffix(".npz")) as stored:
        confusions = stored["confusions"].astype(np.int64)
    return json.loads(cache.with_suffix(".json").read_text()) | {"confusions": confusions}


def measure(run: Path, config) -> dict:
    """The newest model of ``run`` on the setting of ``config``: ``confusions`` (N, K, K) per
    target val image, ``miou``, ``per_class_iou``, ``mean_ccd``, ``per_class_ccd`` and
    ``cosine`` ([step, adv_cosine] per logged window; empty without a probe)."""
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
