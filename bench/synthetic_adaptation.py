"""FADA against its fair controls on the built-in synthetic shift, over several seeds.

For each seed: one source-only stage, then three adaptation stages started from its weights,
identical (same data order, steps, learning rates) except for the discriminator's signal:

* ``lambda_adv = 0`` — the control: the same pipeline without adversarial gradient (target
  images still pass through the segmentor, so trainable BatchNorm sees them);
* ``binary`` — the global "feat. only" baseline (one domain channel, eq. 1 and 4);
* ``soft`` — FADA with soft domain encodings (eq. 5, 6, 8).

Every run goes through the ``fada-tf train`` command; the table printed at the end (and
written as ``OUTPUT/summary.md`` / ``summary.json``) holds target-domain mIoU per seed.

Example::

    python -m bench.synthetic_adaptation --seeds 0 1 2 --output runs/compare
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from bench.common import Training, final_checkpoint, train_run

# (run folder, table row, overrides on top of the adaptation stage's config)
VARIANTS = (
    ("control", "lambda_adv = 0 (control)", ["adapt.lambda_adv=0"]),
    ("binary", "binary (feat. only)", ["adapt.encoding=binary"]),
    ("soft", "FADA soft", ["adapt.encoding=soft"]),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--output", type=Path, default=Path("runs/compare"))
    parser.add_argument("--config", default=None, help="base config (default: synthetic)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        help="extra override for every run, e.g. adapt.steps=500")
    args = parser.parse_args()

    rows = {name: [] for name in ["source-only stage", *(row for _, row, _ in VARIANTS)]}
    start = time.time()
    for seed in args.seeds:
        common = [f"run.seed={seed}", *args.overrides]
        source_dir = args.output / f"seed{seed}" / "source"
        source = Training(source_dir, [*common, "run.stages=[source]"], args.config, needs_weights=True)
        rows["source-only stage"].append(train_run(source)["source"]["miou"])
        for folder, row, extra in VARIANTS:
            result = train_run(Training(args.output / f"seed{seed}" / folder,
                                        [*common, "run.stages=[adapt]",
                                         f"adapt.init_checkpoint={final_checkpoint(source)}",
                                         *extra], args.config))
            rows[row].append(result["adapt"]["miou"])

    header = "| target mIoU (%) | " + " | ".join(f"seed {s}" for s in args.seeds) + " | mean |"
    lines = [header, "|" + "---|" * (len(args.seeds) + 2)]
    for name, values in rows.items():
        cells = " | ".join(f"{100 * v:.1f}" for v in values)
        lines.append(f"| {name} | {cells} | {100 * sum(values) / len(values):.1f} |")
    table = "\n".join(lines)
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "summary.md").write_text(table + "\n")
    (args.output / "summary.json").write_text(json.dumps({"seeds": args.seeds, "miou": rows}, indent=2))
    print(table)
    print(f"({time.time() - start:.0f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
