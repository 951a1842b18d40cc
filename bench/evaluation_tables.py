"""Class Center Distance, multi-scale testing and self-distillation on the runs of ``make compare``.

For each seed's runs (``COMPARE/seedN/{source,control,binary,soft}``, read only):

* ``fada-tf ccd`` of the four models on the same images (all 1,000 source + 1,000 target
  training scenes of the synthetic default), with a Figure-4-style bar chart per seed;
* ``fada-tf eval`` of each model single scale and with ``--mst``;
* ``fada-tf distill --teacher COMPARE/seedN/soft`` (the FADA run), then the student's
  ``eval`` single scale and with ``--mst``.

Everything goes through the ``fada-tf`` command; the results are written to
``OUTPUT/summary.md`` / ``summary.json`` (finished steps are reused when run again).

Example::

    python -m bench.evaluation_tables --compare runs/compare --output runs/compare-eval
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench.common import run_fada_tf, set_options

RUNS = (("source", "source-only"), ("control", "λ_adv = 0 (control)"),
        ("binary", "binary (feat. only)"), ("soft", "FADA soft"))


def fada_tf(output: Path, *args) -> dict:
    """Run ``fada-tf ARGS --json`` once, keeping its JSON in ``output``."""
    if not output.is_file():
        stdout = run_fada_tf(*args, "--json")
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(stdout)
    return json.loads(output.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--compare", type=Path, default=Path("runs/compare"))
    parser.add_argument("--output", type=Path, default=Path("runs/compare-eval"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        help="extra override for distill, e.g. distill.steps=500")
    args = parser.parse_args()

    table = {}
    for seed in args.seeds:
        runs = {name: args.compare / f"seed{seed}" / name for name, _ in RUNS}
        out = args.output / f"seed{seed}"
        ccd = fada_tf(out / "ccd.json", "ccd", "--run", runs["soft"],
                      *(a for name in ("binary", "control", "source") for a in ("--compare", runs[name])),
                      "--plot", out / "ccd.png")
        by_run = {"soft": ccd} | {Path(c["run"]).name: c for c in ccd["compare"]}
        student = args.output / f"seed{seed}" / "distill"
        distilled = fada_tf(out / "distill.json", "distill", "--teacher", runs["soft"], "--output", student,
                            *set_options(args.overrides))
        for name in [*runs, "distill"]:
            run = student if name == "distill" else runs[name]
            single = fada_tf(out / f"eval-{name}.json", "eval", "--run", run)
            mst = fada_tf(out / f"eval-{name}-mst.json", "eval", "--run", run, "--mst")
            row = table.setdefault(name, {"miou": [], "miou_mst": [], "mean_ccd": []})
            row["miou"].append(single["miou"])
            row["miou_mst"].append(mst["miou"])
            row["mean_ccd"].append(by_run[name]["mean_ccd"] if name in by_run else None)
        table["distill"].setdefault("pseudo_label_miou", []).append(distilled["pseudo_labels"]["quality"]["miou"])

    titles = dict(RUNS) | {"distill": "FADA soft + self-distillation"}
    mean = lambda values: sum(values) / len(values)  # noqa: E731
    lines = ["| model | mean CCD (eq. 9) ↓ | mIoU (%) | mIoU with --mst (%) | MST gain |",
             "|---|---|---|---|---|"]
    for name, row in table.items():
        ccd = "–" if None in row["mean_ccd"] else f"{mean(row['mean_ccd']):.3f} ({', '.join(f'{v:.3f}' for v in row['mean_ccd'])})"
        lines.append(f"| {titles[name]} | {ccd} | {100 * mean(row['miou']):.1f} "
                     f"({', '.join(f'{100 * v:.1f}' for v in row['miou'])}) | "
                     f"{100 * mean(row['miou_mst']):.1f} ({', '.join(f'{100 * v:.1f}' for v in row['miou_mst'])}) | "
                     f"{100 * (mean(row['miou_mst']) - mean(row['miou'])):+.1f} |")
    summary = "\n".join(lines) + "\n\nmean over seeds " + ", ".join(map(str, args.seeds)) + " (per seed in parentheses)\n"
    (args.output / "summary.md").write_text(summary)
    (args.output / "summary.json").write_text(json.dumps({"seeds": args.seeds, "runs": table}, indent=2))
    print(summary)


if __name__ == "__main__":
    main()
