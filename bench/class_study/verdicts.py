"""The registered predictions of docs/class_study.md, judged on the evaluation's figures.

Each check is one registered statement on one setting: H1 (the paper's: where classes shift
differently, soft − binary ≥ 3 mIoU with its interval above 0 and a lower CCD; on
``appearance`` no difference), H0 (the factorisation: soft − binary within ±3 and the gradient
cosine ≥ 0.5 on average over training), and the expected outcome per shift. A comparison
the registration states without an interval is judged on the mean over seeds, the interval
printed beside it; "no difference" is an interval that contains 0; the gradient cosine is the
mean of the soft and the binary run's (both probe the same two gradients, on two
trajectories). Every figure is judged as printed: mIoU points to 0.1, CCD and cosine to 0.01.

``figures[setting]`` holds the bootstrap intervals (fractions) ``"soft − binary"``,
``"binary − control"``, ``"soft − control"`` and, on STRONG_SHIFT, ``"binary-lambda10x −
control"`` and ``"soft-lambda10x − control"``; ``"ccd"`` (mean CCD by run name) and
``"cosine"`` (the soft and the binary run's mean adv_cosine).
"""

from __future__ import annotations

from typing import NamedTuple

from bench.class_study.bootstrap import interval_text
from bench.class_study.design import STRONG_FACTOR, STRONG_METHODS, STRONG_SHIFT, strong_run


class Check(NamedTuple):
    claim: str  # "H1", "H0" or "expected"
    setting: str
    statement: str
    measured: str
    holds: bool


def shift_of(setting: str) -> str:
    return setting.split("-")[0]


def registered_checks(figures: dict) -> list[Check]:
    """Every registered statement that applies to the settings in ``figures``: H1's, H0's, then
    the expected outcome's, each in the order of ``figures``."""
    return [*h1_checks(figures), *h0_checks(figures), *expected_checks(figures)]


def h1_checks(figures: dict) -> list[Check]:
    checks = []
    for setting, f in figures.items():
        gap = printed(f["soft − binary"])
        if shift_of(setting) == "appearance":
            checks.append(Check("H1", setting, "soft − binary: no difference (interval contains 0)",
                                points(gap), gap["low"] <= 0 <= gap["high"]))
        elif shift_of(setting) in ("class_colour", "palette_cross"):
            ccd = {run: round(value, 2) for run, value in f["ccd"].items()}
            checks.append(Check("H1", setting, "soft − binary ≥ +3, interval above 0; CCD soft < binary",
                                f"{points(gap)}; CCD {ccd['soft']:.2f} vs {ccd['binary']:.2f}",
                                gap["mean"] >= 3 and gap["low"] > 0 and ccd["soft"] < ccd["binary"]))
    return checks


def h0_checks(figures: dict) -> list[Check]:
    checks = []
    for setting, f in figures.items():
        gap, cosine = printed(f["soft − binary"]), round(sum(f["cosine"]) / 2, 2)
        checks += [Check("H0", setting, "soft − binary within ±3", points(gap), abs(gap["mean"]) <= 3),
                   Check("H0", setting, "gradient cosine ≥ 0.5 (mean of the soft and binary runs)",
                         f"{cosine:.2f} ({f['cosine'][0]:.2f}, {f['cosine'][1]:.2f})", cosine >= 0.5)]
    return checks


def expected_checks(figures: dict) -> list[Check]:
    checks = []
    for setting, f in figures.items():
        gap, binary, soft = (printed(f[key]) for key in ("soft − binary", "binary − control", "soft − control"))
        gains = f"binary {points(binary)}, soft {points(soft)}"
        shift = shift_of(setting)
        if shift == "appearance":
            checks += [Check("expected", setting, "soft − binary within ±2, interval contains 0", points(gap),
                             abs(gap["mean"]) <= 2 and gap["low"] <= 0 <= gap["high"]),
                       Check("expected", setting, "binary and soft ≥ 10 above the control", gains,
                             min(binary["mean"], soft["mean"]) >= 10)]
        elif shift == "class_colour":
            checks += [Check("expected", setting, "soft − binary within ±3", points(gap), abs(gap["mean"]) <= 3),
                       Check("expected", setting, "binary and soft above the control", gains,
                             min(binary["mean"], soft["mean"]) > 0)]
        elif shift == "palette_cross":
            checks += [Check("expected", setting, "binary and soft < 5 above the control", gains,
                             max(binary["mean"], soft["mean"]) < 5),
                       Check("expected", setting, "soft − binary ≤ +1", points(gap), gap["mean"] <= 1)]
        elif shift == STRONG_SHIFT:
            checks.append(Check("expected", setting, "neither binary nor soft above the control", gains,
                                max(binary["mean"], soft["mean"]) <= 0))
            statement = f"at {STRONG_FACTOR} × the tuned λ_adv, binary and soft below the control"
            keys = [f"{strong_run(method)} − control" for method in STRONG_METHODS]
            if all(key in f for key in keys):
                strong = [printed(f[key]) for key in keys]
                checks.append(Check("expected", setting, statement,
                                    ", ".join(f"{method} {points(interval)}"
                                              for method, interval in zip(STRONG_METHODS, strong)),
                                    max(interval["mean"] for interval in strong) < 0))
            else:
                checks.append(Check("expected", setting, statement, "not run", False))
    palette = sorted((float(s.split("-")[1]), s) for s in figures if shift_of(s) == "palette_cross")
    if len(palette) > 1:
        means = [printed(figures[s]["soft − binary"])["mean"] for _, s in palette]
        checks.append(Check("expected", "palette_cross", "soft − binary falls as s grows",
                            ", ".join(f"s {s:g}: {m:+.1f}" for (s, _), m in zip(palette, means)),
                            all(later < earlier for earlier, later in zip(means, means[1:]))))
    return checks


def printed(interval: dict) -> dict:
    """An interval of fractions in mIoU points, rounded as printed (0.1)."""
    return {key: round(100 * value, 1) + 0.0 for key, value in interval.items()}


def points(interval: dict) -> str:
    """A ``printed`` interval as text."""
    return interval_text({key: value / 100 for key, value in interval.items()}, signed=True)


def verdict_table(checks: list[Check]) -> list[str]:
    """Lines of the Markdown table of ``checks``."""
    lines = ["", "| registered | setting | statement | measured (mIoU points: mean [95 % interval]) | holds |",
             "|---|---|---|---|---|"]
    lines += [f"| {c.claim} | {c.setting} | {c.statement} | {c.measured} | {'yes' if c.holds else 'no'} |"
              for c in checks]
    return lines
