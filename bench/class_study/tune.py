"""Step 2: tune each method per shift on its own draw of scenes, with the same grid and budget
for binary, hard and soft, then freeze the settings.

On ``data.synthetic.seed`` = TUNING_DRAW with ``run.seed`` = TUNING_RUN_SEED: one source-only
model (the source does not depend on the shift), then for every tuned setting (the calibrated
strengths; palette_cross once, at PALETTE_TUNING_STRENGTH), method and grid point
(λ_adv × discriminator learning rate) one adaptation stage of the default length from it.
Each method keeps the grid point with the best target val mIoU (the first on a tie).
"""

from __future__ import annotations

from pathlib import Path

from bench.class_study.design import (GRID, METHODS, TUNING_DRAW, TUNING_RUN_SEED, evaluated_settings,
                                      method_overrides, setting_name, shift_overrides,
                                      tuning_setting)
from bench.common import Training, final_checkpoint, finished, train_runs
from fada_tf.files import write_json


def tune(output: Path, calibration: dict, overrides: list[str] = (), jobs: int = 1) -> dict:
    """Train what is missing under ``output`` (``jobs`` runs at a time); write ``tuning.json``
    and ``tuning.md`` there and return ``{"settings": {setting: {method: {"lambda_adv",
    "discriminator_lr", "miou"}}}, "grid": {setting: {method: [[λ, lr, mIoU], ...]}}}``."""
    draw = [f"data.synthetic.seed={TUNING_DRAW}", f"run.seed={TUNING_RUN_SEED}", *overrides]
    source = Training(output / "source", [*draw, "run.stages=[source]"], needs_weights=True)
    init = f"adapt.init_checkpoint={final_checkpoint(source)}"
    tuned = list(dict.fromkeys(tuning_setting(*setting) for setting in evaluated_settings(calibration)))
    points = {(setting_name(shift, strength), method, lam, lr):
              Training(output / setting_name(shift, strength) / method / f"lambda{lam:g}-dlr{lr:g}",
                       [*draw, *shift_overrides(shift, strength), "run.stages=[adapt]", init,
                        *method_overrides(method, lam, lr)])
              for shift, strength in tuned for method in METHODS for lam, lr in GRID}
    if not all(map(finished, points.values())):
        train_runs([source], jobs)
    mious = {key: stages["adapt"]["miou"] for key, stages in zip(points, train_runs(list(points.values()), jobs))}
    result = {"draw": TUNING_DRAW, "run_seed": TUNING_RUN_SEED, "overrides": list(overrides),
              "settings": {}, "grid": {}}
    for (name, method, lam, lr), miou in mious.items():
        result["grid"].setdefault(name, {}).setdefault(method, []).append([lam, lr, miou])
    for name, methods in result["grid"].items():
        for method, scores in methods.items():
            lam, lr, miou = max(scores, key=lambda score: score[2])
            result["settings"].setdefault(name, {})[method] = {"lambda_adv": lam, "discriminator_lr": lr,
                                                               "miou": miou}
    write_json(output / "tuning.json", result)
    (output / "tuning.md").write_text(tuning_table(result))
    return result


def tuning_table(result: dict) -> str:
    """Every grid point's target mIoU (%) per setting and method; the kept one in bold."""
    lines = [f"Tuning draw: data.synthetic.seed={result['draw']}, run.seed={result['run_seed']}", "",
             "| setting | method | " + " | ".join(f"λ {lam:g}, D lr {lr:g}" for lam, lr in GRID) + " |",
             "|---|---|" + "---|" * len(GRID)]
    for name, methods in result["grid"].items():
        for method, scores in methods.items():
            kept = result["settings"][name][method]
            cells = [f"**{100 * m:.1f}**" if (lam, lr) == (kept["lambda_adv"], kept["discriminator_lr"])
                     else f"{100 * m:.1f}" for lam, lr, m in scores]
            lines.append(f"| {name} | {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
