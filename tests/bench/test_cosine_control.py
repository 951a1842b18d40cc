"""The exploratory cosine control of the class study (bench/class_study/cosine_control.py):
the evaluation's soft and binary runs again, each with a probe of its own encoding."""

import json

import pytest

from bench.class_study import cosine_control as control
from bench.class_study.evaluate import plan

CALIBRATION = {"chosen": {"appearance": [0.0], "class_prior": [1.0]}}
TUNED = {m: {"lambda_adv": lam, "discriminator_lr": 1e-3} for m, lam in (("binary", 0.1), ("hard", 0.01), ("soft", 0.03))}
TUNING = {"settings": {"appearance": TUNED, "class_prior-1": TUNED}}


def test_the_controls_are_the_evaluations_soft_and_binary_runs_with_a_probe_of_their_own_encoding(tmp_path):
    sources, controls = control.control_trainings(tmp_path / "control", tmp_path / "evaluate", CALIBRATION, TUNING,
                                                  seeds=(0, 1), overrides=["source.steps=10"])
    _, evaluated, _ = plan(tmp_path / "evaluate", CALIBRATION, TUNING, (0, 1), ["source.steps=10"])
    assert set(controls) == {(seed, s, m) for seed in (0, 1) for s in ("appearance", "class_prior-1")
                             for m in ("binary", "soft")}
    for (seed, setting, method), training in controls.items():
        assert training.output == tmp_path / "control" / f"seed{seed}" / setting / method
        wanted = dict(o.split("=", 1) for o in evaluated[seed, setting, method].overrides)
        assert wanted["adapt.probe_encoding"] != method
        assert dict(o.split("=", 1) for o in training.overrides) == wanted | {"adapt.probe_encoding": method}
    # They start from the evaluation's source-only models, whose weights are wanted.
    assert [(s.output, s.needs_weights) for s in sources] == [(tmp_path / "evaluate" / f"seed{seed}" / "source", True)
                                                              for seed in (0, 1)]


def test_the_controls_are_trained_once_and_read_back_with_the_recorded_miou(tmp_path, monkeypatch):
    trained = []

    def train_runs(trainings, jobs, after=None):
        for training in trainings:
            trained.append(training.output.relative_to(tmp_path).as_posix())
            if not (training.output / "metrics.json").is_file():
                training.output.mkdir(parents=True, exist_ok=True)
                (training.output / "metrics.json").write_text(json.dumps({"stages": {"adapt": {"miou": 0.5}}}))
            if after is not None:
                after(training, None)
        return []

    monkeypatch.setattr(control, "train_runs", train_runs)
    monkeypatch.setattr(control, "logged_scalar", lambda logs, tag: [[1, 0.25], [2, 0.75]])
    recorded_mious = {}
    for setting in ("appearance", "class_prior-1"):
        for method in ("binary", "soft"):
            recorded = tmp_path / "evaluate" / "seed0" / setting / method
            recorded.mkdir(parents=True)
            recorded_mious[setting, method] = (1 + len(recorded_mious)) / 8
            (recorded / "metrics.json").write_text(json.dumps({"stages": {"adapt": {"miou": recorded_mious[setting, method]}}}))

    results = control.cosine_control(tmp_path / "control", tmp_path / "evaluate", CALIBRATION, TUNING, seeds=(0,))
    assert trained[0] == "evaluate/seed0/source" and len(trained) == 5
    assert {key: value["recorded_miou"] for key, value in results.items()} == {
        (0, setting, method): miou for (setting, method), miou in recorded_mious.items()}
    assert results[0, "class_prior-1", "soft"] == {"cosine": [[1, 0.25], [2, 0.75]], "miou": 0.5, "recorded_miou": 0.5}
    trained.clear()
    monkeypatch.setattr(control, "logged_scalar", lambda logs, tag: [])  # a stored series is not read again
    control.cosine_control(tmp_path / "control", tmp_path / "evaluate", CALIBRATION, TUNING, seeds=(0,))
    assert "evaluate/seed0/source" not in trained  # every control finished: no source weights wanted

    # A finished control whose series is lost (and its logs): an error, not an empty series.
    (tmp_path / "control" / "seed0" / "appearance" / "soft" / control.COSINE_FILE).unlink()
    with pytest.raises(SystemExit, match=r"appearance/soft logged no adv_cosine"):
        control.cosine_control(tmp_path / "control", tmp_path / "evaluate", CALIBRATION, TUNING, seeds=(0,))


def test_the_control_table_and_plot(tmp_path):
    def series(*values):
        return [[100 * (i + 1), v] for i, v in enumerate(values)]

    evaluated = {"appearance": {"soft": {0: {"cosine": series(0.4, 0.6)}, 1: {"cosine": series(0.2, 0.2)}},
                                "binary": {0: {"cosine": series(0.3, 0.3)}, 1: {"cosine": series(0.1, 0.3)}}}}
    results = {(0, "appearance", "binary"): {"cosine": series(0.8, 1.0), "miou": 0.501, "recorded_miou": 0.5},
               (1, "appearance", "binary"): {"cosine": series(0.6, 0.8), "miou": 0.6, "recorded_miou": 0.6},
               (0, "appearance", "soft"): {"cosine": series(0.9, 0.9), "miou": 0.7, "recorded_miou": 0.7035},
               (1, "appearance", "soft"): {"cosine": series(0.7, 0.9), "miou": 0.4, "recorded_miou": 0.4}}
    table = control.control_table(results, evaluated)
    # soft vs binary: soft run (0.5 + 0.2) / 2, binary run (0.3 + 0.2) / 2; within: (0.9 + 0.7) / 2, (0.9 + 0.8) / 2.
    assert "| appearance | 0.35 | 0.25 | 0.80 | 0.85 | 0.35 |" in table
    path = control.plot_control(results, evaluated, tmp_path / "control.png")
    assert path.stat().st_size > 0
