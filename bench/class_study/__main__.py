"""``python -m bench.class_study STEP``: the class-level study's steps (docs/class_study.md).

    python -m bench.class_study calibrate --output runs/class_study/calibrate
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from bench.class_study.calibrate import calibrate, calibration_table


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.class_study", description=__doc__.split("\n\n")[0])
    steps = parser.add_subparsers(dest="step", required=True)
    step = steps.add_parser("calibrate", help="fix each shift's strength from source-only and oracle "
                                              "statistics on a separate draw of scenes")
    step.add_argument("--output", type=Path, default=Path("runs/class_study/calibrate"))
    step.add_argument("--feature-images", type=int, default=200,
                      help="images per domain for the class feature shifts")
    step.add_argument("--set", dest="overrides", action="append", default=[],
                      help="extra override for every run, e.g. source.steps=100 for a trial")
    args = parser.parse_args()
    start = time.time()
    if args.step == "calibrate":
        print(calibration_table(calibrate(args.output, args.feature_images, args.overrides)))
    print(f"({time.time() - start:.0f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
