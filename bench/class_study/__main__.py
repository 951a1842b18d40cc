"""``python -m bench.class_study STEP``: the class-level study's steps (docs/class_study.md),
each reusing the finished runs under ``--root`` and resuming interrupted ones.

    python -m bench.class_study calibrate   # strengths from source-only / oracle statistics
    python -m bench.class_study tune        # per method and shift: λ_adv, D learning rate
    python -m bench.class_study evaluate    # the paired runs on fresh draws; tables and plots
    python -m bench.class_study report      # the tables and plots again, from the record alone
    python -m bench.class_study cosine-control  # exploratory: the cosine within one encoding
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from bench.class_study.calibrate import calibrate, calibration_table
from bench.class_study.cosine_control import control_table, cosine_control, plot_control
from bench.class_study.design import EVALUATION_SEEDS, read_json
from bench.class_study.evaluate import evaluate_study, recorded_results
from bench.class_study.report import report
from bench.class_study.tune import tune, tuning_table


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.class_study", description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path("runs/class_study"),
                        help="the study's folder: one subfolder per step")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        help="extra override for every run, e.g. source.steps=100 for a trial")
    parser.add_argument("--jobs", type=int, default=1,
                        help="training runs at a time, the cores shared among them (the study's "
                             "record was made with 2 on 2 cores)")
    steps = parser.add_subparsers(dest="step", required=True)
    step = steps.add_parser("calibrate", help="fix each shift's strength from source-only and oracle "
                                              "statistics on a separate draw of scenes")
    step.add_argument("--feature-images", type=int, default=200,
                      help="images per domain for the class feature shifts")
    steps.add_parser("tune", help="tune λ_adv and the discriminator's learning rate per method and "
                                  "shift on a separate draw of scenes")
    step = steps.add_parser("evaluate", help="train and measure the paired runs on the default draw; "
                                             "write the tables and plots to ROOT/report")
    step.add_argument("--seeds", type=int, nargs="+", default=list(EVALUATION_SEEDS))
    step = steps.add_parser("report", help="write the tables and plots to ROOT/report from the "
                                           "evaluation's recorded measurements alone (no weights, no training)")
    step.add_argument("--seeds", type=int, nargs="+", default=list(EVALUATION_SEEDS))
    step = steps.add_parser("cosine-control", help="exploratory: the evaluation's soft and binary runs again, "
                                                   "each with a probe of its own encoding; write ROOT/cosine_control")
    step.add_argument("--seeds", type=int, nargs="+", default=[EVALUATION_SEEDS[0]])
    args = parser.parse_args()
    start = time.time()
    if args.step == "calibrate":
        print(calibration_table(calibrate(args.root / "calibrate", args.feature_images, args.overrides, args.jobs)))
    elif args.step == "tune":
        calibration = read_json(args.root / "calibrate" / "calibration.json", "calibrate")
        print(tuning_table(tune(args.root / "tune", calibration, args.overrides, args.jobs)))
    else:
        calibration = read_json(args.root / "calibrate" / "calibration.json", "calibrate")
        tuning = read_json(args.root / "tune" / "tuning.json", "tune")
        if args.step == "cosine-control":
            output = args.root / "cosine_control"
            evaluated = recorded_results(args.root / "evaluate", calibration, tuning, args.seeds, args.overrides)
            controls = cosine_control(output, args.root / "evaluate", calibration, tuning, args.seeds,
                                      args.overrides, args.jobs)
            table = control_table(controls, evaluated)
            (output / "control.md").write_text(table)
            plot_control(controls, evaluated, output / "cosine_control.png")
            print(table)
        else:
            results = (evaluate_study(args.root / "evaluate", calibration, tuning, args.seeds, args.overrides,
                                      args.jobs) if args.step == "evaluate" else
                       recorded_results(args.root / "evaluate", calibration, tuning, args.seeds, args.overrides))
            print(report(results, args.root / "report"))
    print(f"({time.time() - start:.0f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
