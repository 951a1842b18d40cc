"""The study's fixed design (registered in docs/class_study.md): which draws of scenes serve
which step, the methods and their overrides, the tuning grid, and the shift settings."""

from __future__ import annotations

import json
from pathlib import Path

CALIBRATION_DRAW, TUNING_DRAW, EVALUATION_DRAW = 101, 99, 1234
CALIBRATION_RUN_SEED = TUNING_RUN_SEED = 100
EVALUATION_SEEDS = (0, 1, 2)
METHODS = ("binary", "hard", "soft")
# λ_adv × the discriminator's learning rate, the same for every method and shift.
GRID = tuple((lam, lr) for lam in (0.01, 0.03, 0.1) for lr in (1e-4, 1e-3))
# The soft and binary runs carry a probe with the other encoding: the gradient cosine.
PROBES = {"soft": "binary", "binary": "soft"}
# palette_cross is tuned once, at this strength, for its three strengths.
PALETTE_TUNING_STRENGTH = 0.5
# The registered class_prior prediction ("at 10× the tuned λ_adv both fall below the
# control"): on that shift binary and soft are also run at this multiple of their tuned λ_adv.
STRONG_SHIFT, STRONG_FACTOR, STRONG_METHODS = "class_prior", 10, ("binary", "soft")


def strong_run(method: str) -> str:
    """The name of ``method``'s run at STRONG_FACTOR × its tuned λ_adv."""
    return f"{method}-lambda{STRONG_FACTOR}x"


def shift_overrides(shift: str, strength: float) -> list[str]:
    return [f"data.synthetic.shift={shift}", f"data.synthetic.strength={strength}"]


def setting_name(shift: str, strength: float) -> str:
    return shift if shift == "appearance" else f"{shift}-{strength:g}"


def evaluated_settings(calibration: dict) -> list[tuple[str, float]]:
    """(shift, strength) of every evaluated setting: the strengths calibration chose."""
    return [(shift, strength) for shift, strengths in calibration["chosen"].items() for strength in strengths]


def tuning_setting(shift: str, strength: float) -> tuple[str, float]:
    """The setting whose tuned hyper-parameters ``(shift, strength)`` uses."""
    return (shift, PALETTE_TUNING_STRENGTH) if shift == "palette_cross" else (shift, strength)


def method_overrides(method: str, lambda_adv: float, discriminator_lr: float) -> list[str]:
    return [f"adapt.encoding={method}", f"adapt.lambda_adv={lambda_adv}",
            f"adapt.discriminator_optimizer.learning_rate={discriminator_lr}"]


def read_json(path: Path, step: str) -> dict:
    """A previous step's result, or exit naming the command that makes it."""
    if not path.is_file():
        raise SystemExit(f"{path} is missing: run `python -m bench.class_study {step}` first")
    return json.loads(path.read_text())
