"""An exploratory control of the gradient cosine (not registered; docs/class_study.md): how
far apart are the segmentor's L_adv gradients under two discriminators of the *same* encoding?

The evaluation's soft and binary runs log the cosine between the L_adv gradients under a soft
and a binary discriminator (``adapt.probe_encoding``). A cosine below 1 has two readings: the
encodings push the segmentor different ways, or any two discriminators do, because each is
far from the ideal one of the factorisation argument. Here the evaluation's binary and soft
runs are trained again with a probe of their own encoding, whose discriminator starts from
other weights: their cosine is what two discriminators of one encoding share. The probe does
not change the run, so each run here is the evaluation's run again; the table gives the
difference of its target mIoU to the recorded one.
"""

from __future__ import annotations

import json
from pathlib import Path

from bench.class_study.design import PROBES
from bench.class_study.evaluate import plan
from bench.class_study.measure import logged_scalar
from bench.class_study.report import cosine_summary, mean_series, panel_grid, save_figure
from bench.common import Training, finished, train_runs
from fada_tf.files import write_json

PROBE = "adapt.probe_encoding="
COSINE_FILE = "cosine.json"


def control_trainings(output: Path, evaluation: Path, calibration: dict, tuning: dict, seeds,
                      overrides: list[str] = ()):
    """``(sources, controls)``: the evaluation's source-only Trainings (their weights wanted)
    and, by ``(seed, setting, method)``, the evaluation's soft and binary runs with a probe of
    their own encoding, in ``output/seedS/SETTING/METHOD``."""
    sources, trainings, _ = plan(evaluation, calibration, tuning, seeds, overrides)
    controls = {(seed, setting, method): Training(output / f"seed{seed}" / setting / method,
                                                  [o for o in training.overrides if not o.startswith(PROBE)]
                                                  + [PROBE + method])
                for (seed, setting, method), training in trainings.items() if method in PROBES}
    return [source._replace(needs_weights=True) for source in sources.values()], controls


def cosine_control(output: Path, evaluation: Path, calibration: dict, tuning: dict, seeds,
                   overrides: list[str] = (), jobs: int = 1) -> dict:
    """Train what is missing (``jobs`` at a time), store each run's ``adv_cosine`` series in
    its folder's ``cosine.json``; return ``{(seed, setting, method): {"cosine", "miou",
    "recorded_miou"}}``."""
    sources, controls = control_trainings(output, evaluation, calibration, tuning, seeds, overrides)

    def store_cosine(training: Training, env) -> None:
        if not (training.output / COSINE_FILE).is_file():
            cosine = logged_scalar(training.output / "logs" / "adapt", "adv_cosine")
            if not cosine:
                raise SystemExit(f"{training.output} logged no adv_cosine (are its logs gone?): "
                                 "remove the folder to train it again")
            write_json(training.output / COSINE_FILE, {"cosine": cosine})

    if not all(map(finished, controls.values())):
        train_runs(sources, jobs)
    train_runs(list(controls.values()), jobs, after=store_cosine)
    results = {}
    for (seed, setting, method), training in controls.items():
        recorded = evaluation / f"seed{seed}" / setting / method / "metrics.json"
        results[seed, setting, method] = {
            "cosine": json.loads((training.output / COSINE_FILE).read_text())["cosine"],
            "miou": json.loads((training.output / "metrics.json").read_text())["stages"]["adapt"]["miou"],
            "recorded_miou": json.loads(recorded.read_text())["stages"]["adapt"]["miou"]}
    return results


def control_table(results: dict, evaluated: dict) -> str:
    """Per setting: the mean cosine over training (mean over seeds) of the evaluation's soft
    and binary runs (soft against binary) beside the controls' (binary against binary, soft
    against soft), and the largest |mIoU − recorded mIoU| of the controls. ``evaluated`` is
    ``recorded_results`` of the same seeds."""
    seeds = sorted({seed for seed, _, _ in results})
    lines = [f"Seeds {', '.join(map(str, seeds))}; cosine of the segmentor's L_adv gradients, mean over the "
             "logged windows of training.", "",
             "| setting | soft vs binary (soft run) | soft vs binary (binary run) | binary vs binary | "
             "soft vs soft | largest \\|mIoU − recorded\\| (points) |", "|---|---|---|---|---|---|"]
    for setting in dict.fromkeys(setting for _, setting, _ in results):
        runs = {method: {seed: results[seed, setting, method] for seed in seeds} for method in PROBES}
        between = [cosine_summary(evaluated[setting][method])[0] for method in ("soft", "binary")]
        within = [cosine_summary(runs[method])[0] for method in ("binary", "soft")]
        drift = max(abs(r["miou"] - r["recorded_miou"]) for by_seed in runs.values() for r in by_seed.values())
        lines.append(f"| {setting} | " + " | ".join(f"{c:.2f}" for c in (*between, *within))
                     + f" | {100 * drift:.2f} |")
    return "\n".join(lines) + "\n"


def plot_control(results: dict, evaluated: dict, path: Path) -> Path:
    """One panel per setting: the cosine over training (mean over seeds) between soft and
    binary (the evaluation's soft and binary runs) and within one encoding (the controls)."""
    settings = list(dict.fromkeys(setting for _, setting, _ in results))
    seeds = sorted({seed for seed, _, _ in results})
    figure, panels, columns = panel_grid(len(settings), 4.0, 3.0)
    for index, (axes, setting) in enumerate(zip(panels, settings)):
        curves = {f"soft vs binary ({method} run)": [measurement["cosine"] for measurement in
                                                     evaluated[setting][method].values()]
                  for method in ("soft", "binary")}
        curves |= {f"{method} vs {method}": [results[seed, setting, method]["cosine"] for seed in seeds]
                   for method in ("binary", "soft")}
        for (label, series), style in zip(curves.items(), ("-", "--", ":", "-.")):
            axes.plot(*mean_series(series), style, label=label)
        axes.set_title(setting, fontsize="medium")
        axes.set_ylim(-0.1, 1.0)
        axes.axhline(0.0, color="grey", linewidth=0.5)
        if index % columns == 0:
            axes.set_ylabel("L_adv gradient cosine")
        if index >= len(settings) - columns:
            axes.set_xlabel("adaptation step")
    panels[0].legend(fontsize="x-small")
    return save_figure(figure, path)
