"""The class-level study's statistics and its calibration rule (bench/class_study)."""

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from bench.class_study.bootstrap import paired_interval, per_class_interval
from bench.class_study.calibrate import calibration_table, choose, lost_rows, qualifies
from bench.class_study.evaluate import setting_runs
from bench.class_study.measure import is_cached, logged_scalar, read_measurement
from bench.class_study.report import confusions, report
from bench.class_study.shift_statistics import (class_shares, colour_histogram,
                                                diagonal_dominant_rows, feature_shift_cosines,
                                                js_divergence, mean_pairwise, total_variation)
from bench.class_study.tune import tuning_table
from bench.common import REPO, Training, run, set_options, train_run
from tests.support.tiny_runs import TINY


def test_js_divergence_in_bits():
    assert js_divergence([1, 0], [0, 1]) == 1.0  # disjoint: one bit
    assert js_divergence([2, 3, 5], [4, 6, 10]) == 0.0  # unnormalised, equal
    p, q = np.array([0.5, 0.3, 0.2]), np.array([0.1, 0.6, 0.3])
    m = (p + q) / 2
    expected = 0.5 * np.sum(p * np.log2(p / m)) + 0.5 * np.sum(q * np.log2(q / m))
    assert np.isclose(js_divergence(p, q), expected)


def test_class_shares_ignore_unlabelled_pixels():
    labels = np.array([[0, 0, 1], [2, 255, 255]], np.uint8)
    np.testing.assert_allclose(class_shares(labels, 3), [0.5, 0.25, 0.25])


def test_colour_histogram_and_total_variation():
    black = np.zeros((2, 4, 4, 3), np.uint8)
    white = np.full((2, 4, 4, 3), 255, np.uint8)
    half = np.concatenate([black[:1], white[:1]])
    assert total_variation(colour_histogram(black), colour_histogram(white)) == 1.0
    assert np.isclose(total_variation(colour_histogram(black), colour_histogram(half)), 0.5)
    assert colour_histogram(half, bins=4).shape == (64,)


def test_feature_shift_cosines_tell_a_shared_shift_from_opposed_ones():
    source = np.random.default_rng(0).normal(size=(4, 6))
    shared = feature_shift_cosines(source, source + [1, 2, 0, 0, 0, 0])
    np.testing.assert_allclose(shared, np.ones((4, 4)))
    directions = np.array([[1.0, 0, 0, 0, 0, 0], [-1.0, 0, 0, 0, 0, 0], [0, 3.0, 0, 0, 0, 0],
                           [0, 0, 0, 0, 0, 0]])
    cosines = feature_shift_cosines(source, source + directions)
    assert np.isclose(cosines[0, 1], -1) and np.isclose(cosines[0, 2], 0)
    assert np.isnan(cosines[3]).all()  # a class that does not move has no direction
    assert np.isclose(mean_pairwise(cosines), (-1 + 0 + 0) / 3)


def test_diagonal_dominant_rows():
    confusion = np.array([[5, 1, 0, 0], [4, 3, 0, 0], [0, 0, 0, 0], [0, 2, 0, 2]])
    np.testing.assert_array_equal(diagonal_dominant_rows(confusion), [True, False, False, False])


def row(shift, strength, source_only, gap, lost=(), oracle_misses=("pole",)):
    """A calibration candidate; ``lost``: rows dominant for the oracle, not for source-only."""
    names = ("road", "sky", "pole")
    return {"shift": shift, "strength": strength, "source_only": source_only,
            "oracle": source_only + gap, "gap": gap,
            "diagonal_dominant": {n: n not in lost and n not in oracle_misses for n in names},
            "oracle_diagonal_dominant": {n: n not in oracle_misses for n in names},
            "target_shares": {"road": 0.5, "sky": 0.47, "pole": 0.03},
            "class_share_js": 0.01, "colour_tv": 0.1, "feature_shift_cosine": 0.5}


def test_the_calibration_rule():
    rows = [row("appearance", 0.0, 0.18, 0.44),
            row("class_colour", 0.5, 0.55, 0.10), row("class_colour", 1.0, 0.40, 0.25),
            row("class_colour", 1.5, 0.30, 0.35), row("class_colour", 2.0, 0.20, 0.45),
            row("palette_cross", 0.25, 0.5, 0.1), row("palette_cross", 0.75, 0.2, 0.4, lost=("road",)),
            row("class_prior", 0.5, 0.6, 0.02), row("class_prior", 1.0, 0.5, 0.05, lost=("sky",))]
    for r in rows:  # the qualifying flag as calibrate() sets it
        r["qualifies"] = qualifies(r)
    assert [r["qualifies"] for r in rows] == [False, False, True, True, False, False, False, False, False]
    assert lost_rows(rows[-1]) == ["sky"] and lost_rows(rows[0]) == []  # pole: the oracle misses it too
    # A class under 5 % of the pixels is not asked to stay diagonal-dominant.
    assert lost_rows(row("class_colour", 1.0, 0.4, 0.25, lost=("pole",), oracle_misses=())) == []
    chosen = choose(rows)
    assert chosen == {"appearance": [0.0], "class_colour": [1.0], "palette_cross": [0.25, 0.75],
                      "class_prior": [0.5]}
    table = calibration_table({"draw": 101, "run_seed": 100, "candidates": rows, "chosen": chosen})
    assert "| class_colour | 1 | 40.0 | 65.0 | 25.0 | none | pole |" in table
    assert table.count("(chosen)") == 5 and "| 0.50 | yes (chosen) |" in table
    assert "| class_prior | 1 | 50.0 | 55.0 | 5.0 | sky | pole |" in table
    assert "class_colour: 1; palette_cross: 0.25, 0.75; class_prior: 0.5" in table


def random_confusions(rng, seeds, images, k=3, accuracy=0.7):
    """(S, N, K, K) per-image confusions of a classifier that is right with ``accuracy``."""
    out = np.zeros((seeds, images, k, k), np.int64)
    for s in range(seeds):
        for n in range(images):
            labels = rng.integers(0, k, 50)
            right = rng.random(50) < accuracy
            predictions = np.where(right, labels, rng.integers(0, k, 50))
            np.add.at(out[s, n], (labels, predictions), 1)
    return out


def numpy_miou(confusion):
    tp = np.diag(confusion).astype(float)
    union = confusion.sum(0) + confusion.sum(1) - tp
    return np.mean(tp[union > 0] / union[union > 0])


def test_bootstrap_point_estimates_are_the_mean_over_seeds_of_each_seeds_miou():
    rng = np.random.default_rng(0)
    a, b = random_confusions(rng, 3, 20, accuracy=0.8), random_confusions(rng, 3, 20, accuracy=0.5)
    single = paired_interval(a, resamples=200)
    expected = np.mean([numpy_miou(a[s].sum(0)) for s in range(3)])
    assert np.isclose(single["mean"], expected) and single["low"] <= expected <= single["high"]
    difference = paired_interval(a, b, resamples=200)
    assert np.isclose(difference["mean"], expected - np.mean([numpy_miou(b[s].sum(0)) for s in range(3)]))
    assert difference["low"] > 0  # 80 % against 50 % accuracy on 3 × 20 × 50 pixels


def test_a_method_against_itself_has_a_zero_interval_and_pairs_must_match():
    a = random_confusions(np.random.default_rng(1), 2, 10)
    assert paired_interval(a, a.copy(), resamples=50) == {"mean": 0.0, "low": 0.0, "high": 0.0}
    with pytest.raises(ValueError, match="one shape"):
        paired_interval(a, a[:, :5])


def numpy_class_iou(confusion):
    tp = np.diag(confusion).astype(float)
    with np.errstate(invalid="ignore"):  # 0 / 0: a class with no IoU
        return tp / (confusion.sum(0) + confusion.sum(1) - tp)


def test_per_class_intervals_are_the_mean_over_seeds_of_each_classs_iou():
    rng = np.random.default_rng(6)
    a, b = random_confusions(rng, 3, 20, accuracy=0.8), random_confusions(rng, 3, 20, accuracy=0.5)
    expected = np.mean([numpy_class_iou(a[s].sum(0)) for s in range(3)], axis=0)
    single = per_class_interval(a, resamples=200)
    np.testing.assert_allclose(single["mean"], expected)
    assert single["mean"].shape == (3,) and np.all(single["low"] <= expected) and np.all(expected <= single["high"])
    assert np.isclose(paired_interval(a, resamples=10)["mean"], expected.mean())  # no class absent
    difference = per_class_interval(a, b, resamples=200)
    np.testing.assert_allclose(difference["mean"],
                               expected - np.mean([numpy_class_iou(b[s].sum(0)) for s in range(3)], axis=0))
    assert np.all(difference["low"] > 0)  # 80 % against 50 % accuracy, every class
    itself = per_class_interval(a, a.copy(), resamples=20)
    assert all(np.all(itself[key] == 0) for key in ("mean", "low", "high"))


def test_a_class_absent_from_a_seed_counts_only_where_it_has_an_iou():
    a = random_confusions(np.random.default_rng(7), 3, 12, accuracy=0.8)
    a[0, :, 2, :] = a[0, :, :, 2] = 0  # class 2 neither labelled nor predicted in seed 0
    a[1, :6, 1, :] = a[1, :6, :, 1] = 0  # class 1 absent from half of seed 1's images
    interval = per_class_interval(a, resamples=300)
    ious = np.array([numpy_class_iou(a[s].sum(0)) for s in range(3)])
    assert np.isnan(ious[0, 2])
    np.testing.assert_allclose(interval["mean"], np.nanmean(ious, axis=0))
    assert np.all(np.isfinite(interval["low"])) and np.all(interval["low"] <= interval["high"])
    a[:, :, 2, :] = a[:, :, :, 2] = 0  # absent everywhere: no IoU, no interval
    interval = per_class_interval(a, resamples=50)
    assert np.isnan([interval[key][2] for key in interval]).all() and np.isfinite(interval["low"][:2]).all()


def test_seeds_and_images_are_crossed_so_repeating_a_seed_adds_no_precision():
    # Three seeds with identical results on the same images know no more than one of them:
    # resampling the images per seed (a nested design) would narrow the interval by ~1/√3.
    one = random_confusions(np.random.default_rng(4), 1, 40)
    widths = [paired_interval(np.repeat(one, seeds, axis=0), resamples=400, seed=5)
              for seeds in (1, 3)]
    single, triple = (w["high"] - w["low"] for w in widths)
    assert abs(triple - single) < 0.15 * single


def test_the_interval_narrows_with_more_images():
    rng = np.random.default_rng(2)
    widths = []
    for images in (10, 160):
        interval = paired_interval(random_confusions(rng, 3, images), resamples=300)
        widths.append(interval["high"] - interval["low"])
    assert widths[1] < 0.5 * widths[0]


def test_logged_scalars_are_read_back_from_tensorboard_files(tmp_path):
    writer = tf.summary.create_file_writer(str(tmp_path))
    with writer.as_default():
        for step, value in ((100, 0.5), (200, -0.25)):
            tf.summary.scalar("adv_cosine", value, step=step)
            tf.summary.scalar("seg_loss", 9.0, step=step)
    writer.flush()
    assert logged_scalar(tmp_path, "adv_cosine") == [[100, 0.5], [200, -0.25]]
    assert logged_scalar(tmp_path / "missing", "adv_cosine") == []


def test_the_report_tables_and_plots(tmp_path):
    rng = np.random.default_rng(3)
    names = ["road", "sky", "car"]

    def measurement(accuracy, with_cosine):
        ccd = dict(zip(names, rng.uniform(0.5, 2, 3)))
        return {"confusions": random_confusions(rng, 1, 8, accuracy=accuracy)[0], "mean_ccd": np.mean(list(ccd.values())),
                "per_class_ccd": ccd, "per_class_iou": dict.fromkeys(names),
                "cosine": [[100, 0.4], [200, 0.6]] if with_cosine else []}

    accuracies = {"source": 0.4, "control": 0.5, "binary": 0.7, "hard": 0.65, "soft": 0.75, "oracle": 0.9}
    results = {setting: {run: {seed: measurement(acc, run in ("soft", "binary")) for seed in (0, 1)}
                         for run, acc in accuracies.items()}
               for setting in ("palette_cross-0.25", "palette_cross-0.5", "class_prior-1")}
    assert "λ_adv × 10" not in report(results, tmp_path)  # no strong runs, no table
    results["class_prior-1"]["binary-lambda10x"] = {seed: measurement(0.3, False) for seed in (0, 1)}
    results["class_prior-1"]["soft-lambda10x"] = results["class_prior-1"]["soft"]  # the same models
    table = report(results, tmp_path)
    assert "| palette_cross-0.5 |" in table and "soft − binary" in table
    assert "| palette_cross-0.25 | 0.50 | 0.60 | 0.50 | 0.60 |" in table  # cosine mean, last window
    strong = {line.split(" | ")[0]: line for line in table.splitlines()}
    binary, soft = strong["| class_prior-1: binary"], strong["| class_prior-1: soft"]
    below_control = binary.split(" | ")[2]  # 30 % against 50 % accuracy: clearly below the control
    assert below_control.startswith("-") and below_control.split("[")[1].split(",")[0].startswith("-")
    assert soft.split(" | ")[3] == "+0.0 [+0.0, +0.0] |"  # against itself
    assert "| expected | class_prior-1 | at 10 × the tuned λ_adv, binary and soft below the control | " in table
    rows = {line.split(" | ")[0]: line for line in table.split("| class_prior-1: IoU per class (%) |")[1].splitlines()}
    assert list(rows)[2:] == ["| source-only", "| λ_adv = 0 control", "| binary", "| hard", "| soft", "| oracle",
                              "| binary-lambda10x", "| soft-lambda10x"]
    soft_iou = np.mean([numpy_class_iou(results["class_prior-1"]["soft"][seed]["confusions"].sum(0))
                        for seed in (0, 1)], axis=0)
    assert rows["| soft"] == "| soft | " + " | ".join(f"{100 * v:.1f}" for v in soft_iou) + " |"
    per_class = [line for line in table.splitlines() if line.startswith("| palette_cross-0.5 | ")][2]
    cells = [re.findall(r"[-+]\d+\.\d", cell) for cell in per_class.strip(" |").split(" | ")[1:]]
    soft_minus_binary = per_class_interval(*(confusions(results, "palette_cross-0.5", run) for run in ("soft", "binary")))
    np.testing.assert_allclose(np.array(cells, float), 100 * np.stack(list(soft_minus_binary.values()), 1), atol=0.051)
    for name in ("ccd.png", "palette_cross_dose.png", "gradient_cosine.png", "report.md"):
        assert (tmp_path / name).stat().st_size > 0


def test_every_setting_runs_the_control_the_methods_and_the_oracle_from_one_source():
    tuned = {method: {"lambda_adv": lam, "discriminator_lr": 1e-4}
             for method, lam in (("binary", 0.03), ("hard", 0.01), ("soft", 0.1))}
    init = "adapt.init_checkpoint=S.h5"

    def settings(shift):
        shifted = ["run.seed=0", f"data.synthetic.shift={shift}"]
        return {name: dict(o.split("=", 1) for o in overrides)
                for name, overrides in setting_runs(shift, shifted, init, tuned).items()}

    runs = settings("palette_cross")
    assert list(runs) == ["oracle", "control", "binary", "hard", "soft"]
    assert runs["oracle"]["data.synthetic.oracle"] == "true" and runs["oracle"]["run.stages"] == "[source]"
    assert runs["control"]["adapt.lambda_adv"] == "0"
    for method in ("control", "binary", "hard", "soft"):
        assert runs[method]["adapt.init_checkpoint"] == "S.h5" and runs[method]["run.seed"] == "0"
    assert runs["soft"]["adapt.lambda_adv"] == "0.1" and runs["soft"]["adapt.probe_encoding"] == "binary"
    assert runs["binary"]["adapt.probe_encoding"] == "soft" and "adapt.probe_encoding" not in runs["hard"]
    # class_prior's prediction: binary and soft also at 10× their tuned λ_adv, same D learning rate.
    runs = settings("class_prior")
    assert list(runs)[5:] == ["binary-lambda10x", "soft-lambda10x"]
    assert runs["binary-lambda10x"]["adapt.lambda_adv"] == "0.3"
    assert runs["soft-lambda10x"]["adapt.lambda_adv"] == "1.0"
    assert runs["soft-lambda10x"]["adapt.discriminator_optimizer.learning_rate"] == "0.0001"
    assert runs["soft-lambda10x"]["adapt.encoding"] == "soft" and "adapt.probe_encoding" not in runs["soft-lambda10x"]
    assert runs["soft-lambda10x"]["data.synthetic.shift"] == "class_prior"


@pytest.mark.slow
def test_a_measurement_agrees_with_the_runs_own_evaluation(tmp_path):
    train_run(Training(tmp_path / "run", TINY))
    cache = tmp_path / "measurements" / "source"
    run([sys.executable, "-m", "bench.class_study.measure", tmp_path / "run", cache,
         *set_options(TINY)], cwd=REPO)
    assert is_cached(cache)
    measured = read_measurement(cache)
    recorded = json.loads((tmp_path / "run" / "metrics.json").read_text())["stages"]["source"]
    assert measured["confusions"].shape == (2, 9, 9)  # one per target val image
    np.testing.assert_array_equal(measured["confusions"].sum(0), recorded["confusion"])
    assert measured["miou"] == pytest.approx(recorded["miou"]) and measured["cosine"] == []  # no probe
    assert set(measured["per_class_ccd"]) == set(recorded["per_class_iou"]) and measured["mean_ccd"] > 0


def test_the_evaluation_trains_what_is_missing_and_measures_each_model_once(tmp_path, monkeypatch):
    """evaluate_study's bookkeeping, with training and measuring replaced by records of the calls."""
    from bench.class_study import evaluate

    trained, measured = [], []

    def train_runs(trainings, jobs, after):
        for training in trainings:
            trained.append((training.output.relative_to(tmp_path).as_posix(), training.needs_weights))
            if not (training.output / "metrics.json").is_file():  # a run's record, as training writes it
                stage = "source" if "run.stages=[source]" in training.overrides else "adapt"
                training.output.mkdir(parents=True, exist_ok=True)
                (training.output / "metrics.json").write_text(json.dumps({"stages": {stage: {}}}))
            after(training, None)
        return []

    def measure(command, env, cwd, log):
        cache = Path(command[4])
        measured.append(cache.relative_to(tmp_path.resolve()).as_posix())
        np.savez_compressed(cache.with_suffix(".npz"), confusions=np.eye(9, dtype=np.int32)[None])
        cache.with_suffix(".json").write_text(json.dumps({"miou": 1.0}))

    monkeypatch.setattr(evaluate, "train_runs", train_runs)
    monkeypatch.setattr(evaluate, "run", measure)
    calibration = {"chosen": {"appearance": [0.0], "class_prior": [1.0]}}
    tuned = {m: {"lambda_adv": 0.01, "discriminator_lr": 1e-3} for m in ("binary", "hard", "soft")}
    tuning = {"settings": {"appearance": tuned, "class_prior-1": tuned}}

    results = evaluate.evaluate_study(tmp_path, calibration, tuning, seeds=(0,))
    runs = ["oracle", "control", "binary", "hard", "soft"]
    assert trained == [("seed0/source", True)] + [(f"seed0/{s}/{r}", True) for s, extra in
                                                  (("appearance", []), ("class_prior-1", ["binary-lambda10x", "soft-lambda10x"]))
                                                  for r in runs + extra]
    # The source once per setting (each setting's own target images), every other model once.
    assert sorted(measured) == sorted(f"measurements/seed0/{s}/{r}" for s, rs in
                                      (("appearance", runs), ("class_prior-1", runs + ["binary-lambda10x", "soft-lambda10x"]))
                                      for r in ["source", *rs])
    assert set(results["class_prior-1"]) == {"source", *runs, "binary-lambda10x", "soft-lambda10x"}
    assert results["appearance"]["soft"][0]["confusions"].dtype == np.int64
    # The report's step reads the same results from the record alone, or names what is missing.
    recorded = evaluate.recorded_results(tmp_path, calibration, tuning, seeds=(0,))
    assert {s: set(runs) for s, runs in recorded.items()} == {s: set(runs) for s, runs in results.items()}
    (tmp_path / "measurements/seed0/class_prior-1/hard.json").rename(tmp_path / "hard.json")
    with pytest.raises(SystemExit, match=r"1 of 14 measurements .*class_prior-1/hard\.json"):
        evaluate.recorded_results(tmp_path, calibration, tuning, seeds=(0,))
    (tmp_path / "hard.json").rename(tmp_path / "measurements/seed0/class_prior-1/hard.json")

    # Everything recorded and measured: nothing measured again, no weights wanted.
    trained.clear(), measured.clear()
    evaluate.evaluate_study(tmp_path, calibration, tuning, seeds=(0,))
    assert measured == [] and not any(weights for _, weights in trained)

    # A run folder removed (to train it again): its old measurement is replaced.
    (tmp_path / "seed0/appearance/hard/metrics.json").unlink()
    trained.clear()
    evaluate.evaluate_study(tmp_path, calibration, tuning, seeds=(0,))
    # The source's weights are wanted again: an adaptation run has to start from it.
    assert measured == ["measurements/seed0/appearance/hard"] and trained[0] == ("seed0/source", True)


def test_the_docs_show_the_recorded_tuning_table():
    recorded = tuning_table(json.loads((REPO / "runs/class_study/tune/tuning.json").read_text()))
    rows = [line for line in recorded.splitlines() if line.startswith("|")]
    assert len(rows) == 2 + 4 * 3  # header, rule, 4 settings × 3 methods
    docs = (REPO / "docs/class_study.md").read_text().splitlines()
    assert [row for row in rows if row not in docs] == []
