"""Step 3: the evaluation runs on the default draw of scenes, and what is measured on each.

Per seed of EVALUATION_SEEDS: one source-only model, shared by every shift and method (the
source does not depend on the shift). Per evaluated setting and seed: the oracle (a source
stage on labelled scenes in the target's style), the λ_adv = 0 control, and binary, hard and
soft with their tuned settings, each an adaptation stage from that seed's source-only model
(the same data order). The soft and binary runs carry a gradient probe with the other
encoding (``adapt.probe_encoding``; it does not change the run, tests/adaptation/
test_gradient_probe.py). On STRONG_SHIFT, binary and soft also run at STRONG_FACTOR × their
tuned λ_adv (``strong_run`` names them), for the registered prediction on that shift.

Measured on every model right after its training, for every setting it belongs to
(``measurements/SEED/SETTING/RUN.json`` and ``.npz``, by bench/class_study/measure.py, reused
when present, so that the record in git needs no weights): the per-image confusion matrices
on the target val split (for the bootstrap), per-class IoU, CCD per class on the same 200
source + 200 target training images, and the probe's ``adv_cosine`` per logged window.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from bench.class_study.design import (EVALUATION_SEEDS, METHODS, PROBES, STRONG_FACTOR,
                                      STRONG_METHODS, STRONG_SHIFT, evaluated_settings,
                                      method_overrides, setting_name, shift_overrides,
                                      strong_run, tuning_setting)
from bench.class_study.measure import is_cached, read_measurement
from bench.common import (REPO, Training, final_checkpoint, finished, run, set_options, thread_env,
                          train_runs)


def evaluate_study(output: Path, calibration: dict, tuning: dict, seeds=EVALUATION_SEEDS,
                   overrides: list[str] = (), jobs: int = 1) -> dict:
    """Train what is missing under ``output`` (``jobs`` runs at a time) and measure each model
    right after its training, in the same job; return ``recorded_results``. A run whose
    measurements are all stored needs only its ``metrics.json``; a run without one is new, and
    so are its measurements, even where old ones are stored."""
    sources, trainings, measurements = plan(output, calibration, tuning, seeds, overrides)
    new = {t.output for t in (*sources.values(), *trainings.values()) if not finished(t._replace(needs_weights=False))}

    def measure_missing(training: Training, env: dict | None) -> None:
        for cache, shifted, _ in measurements[training.output]:
            if training.output in new or not is_cached(cache):
                cache.parent.mkdir(parents=True, exist_ok=True)
                print(f"measuring {training.output} on {cache.parent.name}", file=sys.stderr, flush=True)
                run([sys.executable, "-m", "bench.class_study.measure", training.output.resolve(), cache.resolve(),
                     *set_options(shifted)],
                    env=env or thread_env(os.cpu_count() or 1), cwd=REPO,
                    log=None if env is None else cache.with_suffix(".log"))

    train_runs(list(sources.values()), jobs, after=measure_missing)
    train_runs(list(trainings.values()), jobs, after=measure_missing)
    return read_results(measurements)


def recorded_results(output: Path, calibration: dict, tuning: dict, seeds=EVALUATION_SEEDS,
                     overrides: list[str] = ()) -> dict:
    """``{setting: {run: {seed: measurement}}}`` (``measure``'s dicts, confusions as arrays)
    from the measurements stored under ``output`` alone: no weights, no training; exit naming
    what is missing if the evaluation has not measured everything yet."""
    return read_results(plan(output, calibration, tuning, seeds, overrides)[2])


def plan(output: Path, calibration: dict, tuning: dict, seeds, overrides: list[str]):
    """The evaluation's runs and measurements: ``(sources, trainings, measurements)``, the
    source-only Training per seed, the other Trainings by ``(seed, setting, run)``, and per
    trained folder the ``(cache, the setting's overrides, (seed, setting, run))`` of every
    measurement of its model. A Training wants weights only while a measurement of it, or (a
    source) an adaptation run that starts from it, is missing."""
    sources, trainings, measurements = {}, {}, {}
    for seed in seeds:
        base = [f"run.seed={seed}", *overrides]
        sources[seed] = Training(output / f"seed{seed}" / "source", [*base, "run.stages=[source]"])
        init = f"adapt.init_checkpoint={final_checkpoint(sources[seed])}"
        for shift, strength in evaluated_settings(calibration):
            name = setting_name(shift, strength)
            shifted = [*base, *shift_overrides(shift, strength)]
            tuned = tuning["settings"][setting_name(*tuning_setting(shift, strength))]
            runs = setting_runs(shift, shifted, init, tuned)
            for run_name in ("source", *runs):
                cache = output / "measurements" / f"seed{seed}" / name / run_name
                folder = sources[seed].output if run_name == "source" else output / f"seed{seed}" / name / run_name
                measurements.setdefault(folder, []).append((cache, shifted, (seed, name, run_name)))
                if run_name != "source":
                    trainings[seed, name, run_name] = Training(folder, runs[run_name],
                                                               needs_weights=not is_cached(cache))
    for seed, source in sources.items():
        starts = any(not finished(training) for (s, _, run), training in trainings.items()
                     if s == seed and run != "oracle")
        unmeasured = not all(is_cached(cache) for cache, _, _ in measurements[source.output])
        sources[seed] = source._replace(needs_weights=starts or unmeasured)
    return sources, trainings, measurements


def read_results(measurements: dict) -> dict:
    """``recorded_results`` of ``plan``'s measurements."""
    entries = [entry for entries in measurements.values() for entry in entries]
    missing = [cache for cache, _, _ in entries if not is_cached(cache)]
    if missing:
        raise SystemExit(f"{len(missing)} of {len(entries)} measurements are not recorded yet, e.g. "
                         f"{missing[0]}.json: run `python -m bench.class_study evaluate` first")
    results = {}
    for cache, _, (seed, name, run_name) in entries:
        results.setdefault(name, {}).setdefault(run_name, {})[seed] = read_measurement(cache)
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
