"""Step 1: fix each class-level shift's strength from statistics alone, on a draw of scenes
that neither the tuning nor the evaluation runs use, before any adaptation run.

On that draw (``data.synthetic.seed`` = CALIBRATION_DRAW, ``run.seed`` = CALIBRATION_RUN_SEED): one
source-only model on the game source (shared by every shift) and, for every candidate
(shift, strength), an oracle trained on labelled scenes in the target's style
(``data.synthetic.oracle``). Per candidate: the source-only and oracle target mIoU and their
gap, the classes the source-only model predicts as themselves more often than as any other
class (diagonal-dominant confusion rows), the Jensen–Shannon divergence of the class shares
and the colour-histogram distance between the two training splits, and the mean pairwise
cosine between the classes' mean feature shifts in the source-only model's backbone.

The rule (written in docs/class_study.md before the first run, amended there before any
adaptation run): a candidate *qualifies* when source-only ≥ 25 mIoU, oracle − source-only ≥ 20
and every row that is diagonal-dominant for the oracle is for the source-only model too, of
the classes with at least 5 % of the target's pixels;
class_colour takes its smallest qualifying strength; palette_cross keeps its three strengths
(the dose-response), each marked; class_prior takes the strongest candidate whose source-only
mIoU is ≥ 25 and which loses no row (a prior shift leaves the appearance alone,
so no gap is asked of it); appearance, the default shift, is the null control as it is.
"""

from __future__ import annotations

import json
from pathlib import Path

from bench.class_study.shift_statistics import (class_shares, colour_histogram,
                                                diagonal_dominant_rows, feature_shift_cosines,
                                                js_divergence, mean_pairwise, total_variation)
from bench.class_study.design import CALIBRATION_DRAW, CALIBRATION_RUN_SEED, shift_overrides
from bench.common import Training, train_runs
from fada_tf.config import load_config
from fada_tf.data.classes import class_table
from fada_tf.data.datasets import split_pairs, synthetic_split
from fada_tf.data.pipeline import evaluation_dataset
from fada_tf.evaluation.ccd import ccd_size, class_feature_stats
from fada_tf.evaluation.target import evaluate_target
from fada_tf.files import write_json
from fada_tf.training.checkpoints import restore_segmentor
from fada_tf.training.run_dir import RunDir

CANDIDATES = (("appearance", 0.0),
              *(("class_colour", s) for s in (0.5, 1.0, 1.1, 1.2, 1.25, 1.5, 2.0)),
              *(("palette_cross", s) for s in (0.25, 0.5, 0.75)),
              *(("class_prior", s) for s in (0.5, 1.0)))
MIN_SOURCE_ONLY, MIN_GAP = 0.25, 0.20
# Diagonal dominance is asked of the classes with at least this share of the target's pixels.
MIN_SHARE = 0.05


def calibrate(output: Path, feature_images: int = 200, overrides: list[str] = (), jobs: int = 1) -> dict:
    """Train what is missing under ``output`` (``jobs`` runs at a time), measure every
    candidate, apply the rule; write ``calibration.json`` and ``calibration.md`` there and
    return the JSON's content. ``overrides`` go to every run (e.g. fewer steps for a trial).
    A ``calibration.json`` there made with the same overrides and feature images is reused."""
    saved = output / "calibration.json"
    if saved.is_file():
        result = json.loads(saved.read_text())
        if result.get("overrides") == list(overrides) and result.get("feature_images") == feature_images:
            return result
    draw = [f"data.synthetic.seed={CALIBRATION_DRAW}", f"run.seed={CALIBRATION_RUN_SEED}", "run.stages=[source]",
            *overrides]
    oracles = [output / f"oracle-{shift}-{strength:g}" for shift, strength in CANDIDATES]
    train_runs([Training(output / "source", draw, needs_weights=True),
                *(Training(oracle, [*draw, *shift_overrides(shift, strength), "data.synthetic.oracle=true"],
                           needs_weights=True) for oracle, (shift, strength) in zip(oracles, CANDIDATES))], jobs)
    rows = [measure(output / "source", oracle, draw, shift, strength, feature_images)
            for oracle, (shift, strength) in zip(oracles, CANDIDATES)]
    for row in rows:
        row["gap"] = row["oracle"] - row["source_only"]
        row["qualifies"] = qualifies(row)
    result = {"draw": CALIBRATION_DRAW, "run_seed": CALIBRATION_RUN_SEED, "overrides": list(overrides),
              "feature_images": feature_images, "candidates": rows, "chosen": choose(rows)}
    write_json(saved, result)
    (output / "calibration.md").write_text(calibration_table(result))
    return result


def qualifies(row: dict) -> bool:
    """Source-only ≥ 25 mIoU, a gap to the oracle ≥ 20 points, and no row lost."""
    return row["source_only"] >= MIN_SOURCE_ONLY and row["gap"] >= MIN_GAP and not lost_rows(row)


def lost_rows(row: dict) -> list[str]:
    """Classes with at least MIN_SHARE of the target's pixels whose confusion row is
    diagonal-dominant for the oracle but not for the source-only model (a class even the
    oracle does not recognise cannot be asked of it)."""
    return [name for name, ok in row["oracle_diagonal_dominant"].items()
            if ok and not row["diagonal_dominant"][name] and row["target_shares"][name] >= MIN_SHARE]


def measure(source_run: Path, oracle_run: Path, draw: list[str], shift: str, strength: float,
            feature_images: int) -> dict:
    """The source-only and oracle models' statistics on one candidate target domain."""
    config = load_config(None, [*draw, *shift_overrides(shift, strength)])
    table = class_table(config.data.classes)
    oracle = evaluate_target(config, restore_segmentor(config, str(RunDir.open(oracle_run).latest_checkpoint())),
                             table, verbose=0)
    segmentor = restore_segmentor(config, str(RunDir.open(source_run).latest_checkpoint()))
    evaluation = evaluate_target(config, segmentor, table, verbose=0)
    splits = {domain: synthetic_split(config.data, domain, "train") for domain in ("source", "target")}
    centres = {}
    for domain in splits:
        batches = evaluation_dataset(split_pairs(config.data, domain, "train").take(feature_images),
                                     ccd_size(config, domain), config.model.normalization,
                                     config.data.eval_batch_size)
        centres[domain] = class_feature_stats(segmentor, [batches], table.num_classes, verbose=0)[0].centres()
    shares = {domain: class_shares(labels, table.num_classes) for domain, (_, labels) in splits.items()}
    dominant = diagonal_dominant_rows(evaluation["confusion"])
    oracle_dominant = diagonal_dominant_rows(oracle["confusion"])
    return {
        "shift": shift, "strength": strength, "source_only": evaluation["miou"], "oracle": oracle["miou"],
        "per_class_iou": evaluation["per_class_iou"],
        "diagonal_dominant": dict(zip(table.names, map(bool, dominant))),
        "oracle_diagonal_dominant": dict(zip(table.names, map(bool, oracle_dominant))),
        "target_shares": dict(zip(table.names, shares["target"].tolist())),
        "class_share_js": js_divergence(shares["source"], shares["target"]),
        "colour_tv": total_variation(*(colour_histogram(splits[d][0]) for d in splits)),
        "feature_shift_cosine": mean_pairwise(feature_shift_cosines(centres["source"], centres["target"])),
    }


def choose(rows: list[dict]) -> dict:
    """The strengths the rule (module docstring) picks, by shift; None where nothing qualifies."""
    by_shift = {}
    for row in rows:
        by_shift.setdefault(row["shift"], []).append(row)
    colour = [r["strength"] for r in by_shift["class_colour"] if r["qualifies"]]
    prior = [r["strength"] for r in by_shift["class_prior"]
             if r["source_only"] >= MIN_SOURCE_ONLY and not lost_rows(r)]
    return {"appearance": [0.0], "class_colour": [min(colour)] if colour else [],
            "palette_cross": [r["strength"] for r in by_shift["palette_cross"]],
            "class_prior": [max(prior)] if prior else []}


def calibration_table(result: dict) -> str:
    """The candidates as a Markdown table (percentages), with the chosen strengths."""
    lines = [f"Calibration draw: data.synthetic.seed={result['draw']}, run.seed={result['run_seed']}",
             "", "| shift | strength | source-only | oracle | gap | rows lost (diagonal-dominant for the "
             "oracle, not for source-only; ≥ 5 % of the pixels) | other rows not diagonal-dominant "
             "| class-share JS (bits) | colour TV "
             "| feature-shift cosine | qualifies |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in result["candidates"]:
        chosen = r["strength"] in result["chosen"][r["shift"]]
        lost = lost_rows(r)
        missed = [name for name, ok in r["diagonal_dominant"].items() if not ok and name not in lost]
        lines.append(f"| {r['shift']} | {r['strength']:g} | {100 * r['source_only']:.1f} "
                     f"| {100 * r['oracle']:.1f} | {100 * r['gap']:.1f} | {', '.join(lost) or 'none'} "
                     f"| {', '.join(missed) or 'none'} "
                     f"| {r['class_share_js']:.3f} | {r['colour_tv']:.2f} "
                     f"| {r['feature_shift_cosine']:.2f} | {'yes' if r['qualifies'] else 'no'}"
                     f"{' (chosen)' if chosen else ''} |")
    summary = "; ".join(f"{shift}: {', '.join(f'{s:g}' for s in strengths) or 'none qualifies'}"
                         for shift, strengths in result["chosen"].items())
    return "\n".join([*lines, "", f"Chosen strengths: {summary}", ""])
