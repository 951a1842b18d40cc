"""Step 2: tune each method per shift on its own draw of scenes, with the same grid and budget
for binary, hard and soft, then freeze the settings.

On ``data.synthetic.seed`` = TUNING_DRAW with ``run.seed`` = TUNING_RUN_SEED: one source-only
model (the source does not depend on the shift), then for every tuned setting (the calibrated
strengths; palette_cross once, at PALETTE_TUNING_STRENGTH), method and grid point
(λ_adv × discriminator learning rate) one adaptation stage of the default length from it.
Each method keeps the grid point with the best target val mIoU (the first on a tie).
"""

from __future__ import annotations

import json
from pathlib import Path

from bench.class_study.design import (GRID, METHODS, TUNING_DRAW, TUNING_RUN_SEED, evaluated_settings,
                                      method_overrides, setting_name, shift_overrides,
                                      tuning_setting)
from bench.common import train_run
from fada_tf.training.run_dir import RunDir


def tune(output: Path, calibration: dict, overrides: list[str] = ()) -> dict:
    """Train what is missing under ``output``; write ``tuning.json`` and ``tuning.md`` there and
    return ``{"settings": {setting: {method: {"lambda_adv", "discriminator_lr", "miou"}}},
    "grid": {setting: {method: [[λ, lr, mIoU], ...]}}}``."""
    draw = [f"data.synthetic.seed={TUNING_DRAW}", f"run.seed={TUNING_RUN_SEED}", *overrides]
    source = output / "source"
    train_run(source, [*draw, "run.stages=[source]"])
    init = f"adapt.init_checkpoint={RunDir.open(source).latest_checkpoint()}"
    tuned = list(dict.fromkeys(tuning_setting(*setting) for setting in evaluated_settings(calibration)))
    result = {"draw": TUNING_DRAW, "run_seed": TUNING_RUN_SEED, "settings": {}, "grid": {}}
    for shift, strength in tuned:
        name = setting_name(shift, strength)
        result["grid"][name], result["settings"][name] = {}, {}
        for method in METHODS:
            scores = []
            for lam, lr in GRID:
                run = output / name / method / f"lambda{lam:g}-dlr{lr:g}"
                stages = train_run(run, [*draw, *shift_overrides(shift, strength), "run.stages=[adapt]",
                                         init, *method_overrides(method, lam, lr)])
                scores.append([lam, lr, stages["adapt"]["miou"]])
            lam, lr, miou = max(scores, key=lambda score: score[2])
            result["grid"][name][method] = scores
            result["settings"][name][method] = {"lambda_adv": lam, "discriminator_lr": lr, "miou": miou}
    (output / "tuning.json").write_text(json.dumps(result, indent=2))
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
