"""Step 4: the tables and plots of docs/class_study.md from the evaluation's measurements.

Tables (Markdown, percentages): target mIoU per setting and run with its 95 % bootstrap
interval; the paired differences the predictions are about, with their intervals; soft −
binary per class with intervals; the mean CCD per setting and run; the gradient cosine of
the soft and binary runs; the runs at STRONG_FACTOR × the tuned λ_adv against the control
and the tuned runs; every registered prediction with its figures and whether it holds
(bench/class_study/verdicts.py); per setting, every run's per-class IoU. Plots: CCD per
class, one panel per setting (source-only, binary, soft; the paper's Figure 4), mIoU against the
palette_cross strength with intervals, and the gradient cosine over training.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.class_study.bootstrap import interval_text, paired_interval, per_class_interval
from bench.class_study.design import METHODS, STRONG_FACTOR, STRONG_METHODS, strong_run
from bench.class_study.verdicts import registered_checks, verdict_table
from fada_tf.evaluation.metrics import iou_per_class
from fada_tf.files import atomic_output
from fada_tf.visualize import draw_ccd

# The runs of every setting (the ones at STRONG_FACTOR × λ_adv have a table of their own).
RUNS = ("source", "control", *METHODS, "oracle")
DIFFERENCES = (("binary", "control"), ("hard", "control"), ("soft", "control"),
               ("soft", "binary"), ("hard", "binary"))
TITLES = {"source": "source-only", "control": "λ_adv = 0 control", "binary": "binary", "hard": "hard",
          "soft": "soft", "oracle": "oracle"}


def confusions(results: dict, setting: str, run: str) -> np.ndarray:
    """(S, N, K, K): the run's per-image confusions, seeds in order."""
    by_seed = results[setting][run]
    return np.stack([by_seed[seed]["confusions"] for seed in sorted(by_seed)])


def report(results: dict, output: Path) -> str:
    """Write the plots into ``output`` and return the Markdown tables (also ``report.md``)."""
    output.mkdir(parents=True, exist_ok=True)
    settings = list(results)
    seeds = sorted(next(iter(results.values()))["source"])
    intervals = {s: {run: paired_interval(confusions(results, s, run)) for run in RUNS} for s in settings}
    differences = {s: {pair: paired_interval(confusions(results, s, pair[0]), confusions(results, s, pair[1]))
                       for pair in DIFFERENCES} for s in settings}
    lines = [f"Seeds {', '.join(map(str, seeds))}; mean over seeds [95 % bootstrap interval over seeds "
             "and val images].", "",
             "| target mIoU (%) | " + " | ".join(TITLES[run] for run in RUNS) + " |",
             "|---|" + "---|" * len(RUNS)]
    lines += [f"| {s} | " + " | ".join(interval_text(intervals[s][run]) for run in RUNS) + " |"
              for s in settings]
    lines += ["", "| paired difference (mIoU points) | " + " | ".join(f"{a} − {b}" for a, b in DIFFERENCES)
              + " |", "|---|" + "---|" * len(DIFFERENCES)]
    lines += [f"| {s} | " + " | ".join(interval_text(differences[s][pair], signed=True) for pair in DIFFERENCES)
              + " |" for s in settings]
    lines += per_class_difference_table(results, "soft", "binary")
    lines += ["", "| mean CCD (eq. 9) | " + " | ".join(TITLES[run] for run in RUNS) + " |",
              "|---|" + "---|" * len(RUNS)]
    lines += [f"| {s} | " + " | ".join(f"{mean_over_seeds(results[s][run], 'mean_ccd'):.2f}" for run in RUNS)
              + " |" for s in settings]
    lines += ["", "| gradient cosine (soft vs binary L_adv) | soft run: mean | soft run: last window "
              "| binary run: mean | binary run: last window |", "|---|---|---|---|---|"]
    for s in settings:
        cells = [f"{value:.2f}" for run in ("soft", "binary") for value in cosine_summary(results[s][run])]
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    strong = strong_intervals(results)
    lines += strong_lambda_table(strong)
    lines += verdict_table(registered_checks(verdict_figures(results, differences, strong)))
    for s in settings:
        lines += per_class_table(results, s)
    table = "\n".join(lines) + "\n"
    (output / "report.md").write_text(table)
    plot_ccd_panels(results, output / "ccd.png")
    plot_dose_response(intervals, output / "palette_cross_dose.png")
    plot_cosines(results, output / "gradient_cosine.png")
    return table


def strong_intervals(results: dict) -> dict:
    """``{(setting, method): {"mIoU", "− control", "− tuned"}}`` intervals of the runs at
    STRONG_FACTOR × the tuned λ_adv (none if not run): their mIoU and their paired differences
    to the control and to the tuned run."""
    intervals = {}
    for s in results:
        for method in STRONG_METHODS:
            if strong_run(method) in results[s]:
                strong = confusions(results, s, strong_run(method))
                intervals[s, method] = {"mIoU": paired_interval(strong),
                                        "− control": paired_interval(strong, confusions(results, s, "control")),
                                        "− tuned": paired_interval(strong, confusions(results, s, method))}
    return intervals


def strong_lambda_table(strong: dict) -> list[str]:
    """Lines of the table of ``strong_intervals`` (none if empty)."""
    if not strong:
        return []
    lines = ["", f"| λ_adv × {STRONG_FACTOR} | target mIoU (%) | − control (points) | − the tuned λ_adv (points) |",
             "|---|---|---|---|"]
    lines += [f"| {s}: {method} | {interval_text(cells['mIoU'])} | {interval_text(cells['− control'], signed=True)} | "
              f"{interval_text(cells['− tuned'], signed=True)} |" for (s, method), cells in strong.items()]
    return lines


def verdict_figures(results: dict, differences: dict, strong: dict) -> dict:
    """The figures ``bench.class_study.verdicts`` judges, per setting."""
    figures = {}
    for s in results:
        figures[s] = {f"{a} − {b}": differences[s][a, b] for a, b in DIFFERENCES}
        figures[s] |= {f"{strong_run(method)} − control": cells["− control"]
                       for (setting, method), cells in strong.items() if setting == s}
        figures[s]["ccd"] = {run: mean_over_seeds(results[s][run], "mean_ccd") for run in ("soft", "binary")}
        figures[s]["cosine"] = tuple(cosine_summary(results[s][run])[0] for run in ("soft", "binary"))
    return figures


def class_names(results: dict) -> list[str]:
    """The class names in the order of the confusion matrices (from any measurement)."""
    by_seed = next(iter(next(iter(results.values())).values()))
    return list(next(iter(by_seed.values()))["per_class_iou"])


def per_class_difference_table(results: dict, a: str, b: str) -> list[str]:
    """Lines of the table of run ``a`` − run ``b`` per class and setting (IoU points, with the
    bootstrap interval of each class)."""
    names = class_names(results)
    lines = ["", f"{a} − {b} per class: {len(results) * len(names)} intervals, each at 95 %, to read as a "
             "description, not as tests.", "",
             f"| {a} − {b} per class (IoU points) | " + " | ".join(names) + " |",
             "|---|" + "---|" * len(names)]
    for s in results:
        interval = per_class_interval(confusions(results, s, a), confusions(results, s, b))
        cells = [interval_text({key: interval[key][k] for key in interval}, signed=True)
                 for k in range(len(names))]
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    return lines


def per_class_table(results: dict, setting: str) -> list[str]:
    """Lines of the table of every run's IoU per class on ``setting`` (%, mean over the seeds
    where the class has an IoU, as ``per_class_interval``)."""
    names = class_names(results)
    lines = ["", f"| {setting}: IoU per class (%) | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for run in [*RUNS, *(run for run in results[setting] if run not in RUNS)]:
        means = np.nanmean(iou_per_class(confusions(results, setting, run).sum(1)), axis=0)
        lines.append(f"| {TITLES.get(run, run)} | " + " | ".join(f"{100 * v:.1f}" for v in means) + " |")
    return lines


def mean_over_seeds(by_seed: dict, key: str) -> float:
    return float(np.mean([measurement[key] for measurement in by_seed.values()]))


def mean_ccd_result(by_seed: dict) -> dict:
    """A ``class_center_distance``-like result: per-class CCD averaged over seeds."""
    names = list(next(iter(by_seed.values()))["per_class_ccd"])
    per_class = {}
    for name in names:
        values = [m["per_class_ccd"][name] for m in by_seed.values() if m["per_class_ccd"][name] is not None]
        per_class[name] = float(np.mean(values)) if values else None
    return {"per_class_ccd": per_class, "mean_ccd": mean_over_seeds(by_seed, "mean_ccd")}


def cosine_summary(by_seed: dict) -> tuple[float, float]:
    """Mean over seeds of (the mean over all logged windows, the last window) of adv_cosine."""
    series = [np.array(m["cosine"])[:, 1] for m in by_seed.values() if m["cosine"]]
    if not series:
        return float("nan"), float("nan")
    return float(np.mean([s.mean() for s in series])), float(np.mean([s[-1] for s in series]))


def mean_series(series: list) -> tuple[list, list]:
    """``(steps, means)``: the mean over ``series`` (``[[step, value], ...]`` each, empty ones
    left out) at the steps all of them logged."""
    by_step = [dict(map(tuple, s)) for s in series if s]
    steps = sorted(set.intersection(*(set(s) for s in by_step))) if by_step else []
    return steps, [float(np.mean([s[step] for s in by_step])) for step in steps]


def new_figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def save_figure(figure, path: Path) -> Path:
    with atomic_output(path) as partial:
        figure.savefig(partial, dpi=120, format="png")
    return path


def panel_grid(count: int, width: float, height: float):
    """``(figure, panels, columns)``: ``count`` panels of ``width`` × ``height`` inches, up to
    three a row, on one y scale (the grid's unused panels hidden)."""
    columns = min(3, count)
    rows = -(-count // columns)
    figure = new_figure(width * columns, height * rows)
    panels = figure.subplots(rows, columns, sharey=True, squeeze=False).ravel()
    for axes in panels[count:]:
        axes.set_visible(False)
    return figure, panels[:count], columns


def plot_ccd_panels(results: dict, path: Path) -> Path:
    """One panel per setting: the CCD per class (mean over seeds) of the source-only model and
    the binary and soft runs, on one scale."""
    figure, panels, columns = panel_grid(len(results), 5.0, 3.6)
    for index, (axes, (setting, runs)) in enumerate(zip(panels, results.items())):
        draw_ccd(axes, {TITLES[run]: mean_ccd_result(runs[run]) for run in ("source", "binary", "soft")})
        axes.set_title(setting, fontsize="medium")
        axes.legend(fontsize="x-small")
        if index % columns:
            axes.set_ylabel("")
    return save_figure(figure, path)


def plot_dose_response(intervals: dict, path: Path) -> Path | None:
    """Target mIoU against the palette_cross strength, each run with its interval."""
    points = sorted((float(s.split("-")[1]), s) for s in intervals if s.startswith("palette_cross-"))
    if not points:
        return None
    figure = new_figure(6.0, 4.0)
    axes = figure.add_subplot()
    strengths = [p for p, _ in points]
    for run in RUNS:
        values = [intervals[s][run] for _, s in points]
        mean = np.array([100 * v["mean"] for v in values])
        error = np.array([[100 * (v["mean"] - v["low"]) for v in values],
                          [100 * (v["high"] - v["mean"]) for v in values]])
        axes.errorbar(strengths, mean, yerr=error, marker="o", capsize=3, label=TITLES[run])
    axes.set_xlabel("palette_cross strength s")
    axes.set_ylabel("target mIoU (%)")
    axes.legend(fontsize="small")
    return save_figure(figure, path)


def plot_cosines(results: dict, path: Path) -> Path:
    """adv_cosine over training steps (mean over seeds): one colour per setting, its soft run
    solid and its binary run dashed."""
    figure = new_figure(7.0, 4.5)
    axes = figure.add_subplot()
    for index, (setting, runs) in enumerate(results.items()):
        for run, style in (("soft", "-"), ("binary", "--")):
            steps, means = mean_series([m["cosine"] for m in runs[run].values()])
            if steps:
                axes.plot(steps, means, style, color=f"C{index}", label=f"{setting}, {run} run")
    axes.axhline(0.0, color="grey", linewidth=0.5)
    axes.set_xlabel("adaptation step")
    axes.set_ylabel("cosine of the soft and binary L_adv gradients")
    axes.legend(fontsize="small")
    return save_figure(figure, path)
