"""The registered predictions of docs/class_study.md judged on given figures
(bench/class_study/verdicts.py)."""

from bench.class_study.verdicts import registered_checks, verdict_table


def interval(mean, low=None, high=None):
    """An interval in mIoU points, as fractions (what the bootstrap returns)."""
    low = mean - 1 if low is None else low
    high = mean + 1 if high is None else high
    return {"mean": mean / 100, "low": low / 100, "high": high / 100}


def setting(soft_binary, binary_control=10.0, soft_control=10.0, ccd=(1.0, 1.2), cosine=(0.6, 0.6), **extra):
    return {"soft − binary": soft_binary, "binary − control": interval(binary_control),
            "soft − control": interval(soft_control), "ccd": {"soft": ccd[0], "binary": ccd[1]},
            "cosine": cosine, **extra}


def verdicts(figures):
    return {(c.claim, c.setting, c.statement): c.holds for c in registered_checks(figures)}


def test_h1_asks_for_three_points_an_interval_above_zero_and_a_lower_ccd():
    figures = {"class_colour-1.1": setting(interval(3.2, 0.5, 6.0)),
               "palette_cross-0.5": setting(interval(3.2, -0.2, 6.0)),  # interval reaches below 0
               "palette_cross-0.75": setting(interval(4.0, 1.0, 7.0), ccd=(1.3, 1.2)),  # higher CCD
               "appearance": setting(interval(0.5, -0.4, 1.4))}
    h1 = {s: holds for (claim, s, _), holds in verdicts(figures).items() if claim == "H1"}
    assert h1 == {"class_colour-1.1": True, "palette_cross-0.5": False, "palette_cross-0.75": False,
                  "appearance": True}
    assert verdicts({"class_colour-1.1": setting(interval(2.96, 0.5, 6.0))})[  # prints +3.0
        "H1", "class_colour-1.1", "soft − binary ≥ +3, interval above 0; CCD soft < binary"]


def test_h0_asks_for_a_small_gap_and_a_mean_cosine_of_one_half():
    figures = {"appearance": setting(interval(-3.0), cosine=(0.7, 0.3)),  # both edges included
               "class_colour-1.1": setting(interval(-3.04)),  # prints -3.0
               "palette_cross-0.5": setting(interval(3.1)),
               "class_prior-1": setting(interval(0.0), cosine=(0.52, 0.46), **{
                   "binary-lambda10x − control": interval(-1.0), "soft-lambda10x − control": interval(-2.0)})}
    h0 = {(s, statement.split()[0]): holds for (claim, s, statement), holds in verdicts(figures).items()
          if claim == "H0"}
    assert h0 == {("appearance", "soft"): True, ("appearance", "gradient"): True,
                  ("class_colour-1.1", "soft"): True, ("class_colour-1.1", "gradient"): True,
                  ("palette_cross-0.5", "soft"): False, ("palette_cross-0.5", "gradient"): True,
                  ("class_prior-1", "soft"): True, ("class_prior-1", "gradient"): False}


def test_the_expected_outcomes_per_shift():
    figures = {"appearance": setting(interval(1.9, -0.1, 3.0), binary_control=10.0, soft_control=9.9),
               "palette_cross-0.25": setting(interval(0.8), binary_control=4.96, soft_control=2.0),
               "palette_cross-0.5": setting(interval(0.4), binary_control=4.9, soft_control=4.94),
               "palette_cross-0.75": setting(interval(0.46)),
               "class_prior-1": setting(interval(0.0), binary_control=-0.5, soft_control=0.0, **{
                   "binary-lambda10x − control": interval(-1.0), "soft-lambda10x − control": interval(-0.04)})}
    expected = {(s, statement): holds for (claim, s, statement), holds in verdicts(figures).items()
                if claim == "expected"}
    assert expected == {
        ("appearance", "soft − binary within ±2, interval contains 0"): True,
        ("appearance", "binary and soft ≥ 10 above the control"): False,  # soft 9.9
        ("palette_cross-0.25", "binary and soft < 5 above the control"): False,  # 4.96 prints 5.0
        ("palette_cross-0.25", "soft − binary ≤ +1"): True,
        ("palette_cross-0.5", "binary and soft < 5 above the control"): True,  # 4.94 prints 4.9
        ("palette_cross-0.5", "soft − binary ≤ +1"): True,
        ("palette_cross-0.75", "binary and soft < 5 above the control"): False,
        ("palette_cross-0.75", "soft − binary ≤ +1"): True,
        ("palette_cross", "soft − binary falls as s grows"): False,  # 0.8, 0.4, then 0.5
        ("class_prior-1", "neither binary nor soft above the control"): True,
        ("class_prior-1", "at 10 × the tuned λ_adv, binary and soft below the control"): False,  # -0.04 prints 0.0
    }
    figures["palette_cross-0.75"]["soft − binary"] = interval(-0.2)
    assert verdicts(figures)["expected", "palette_cross", "soft − binary falls as s grows"]
    figures["appearance"]["soft − control"] = interval(10.0)  # ≥ 10: the edge is included
    assert verdicts(figures)["expected", "appearance", "binary and soft ≥ 10 above the control"]


def test_a_registered_prediction_without_its_runs_is_a_row_that_does_not_hold():
    checks = registered_checks({"class_prior-1": setting(interval(0.0), binary_control=-1.0, soft_control=-1.0)})
    strong = [c for c in checks if "10 ×" in c.statement]
    assert len(strong) == 1 and strong[0].measured == "not run" and not strong[0].holds


def test_the_verdict_table_has_one_row_per_check_and_no_stray_pipes():
    figures = {"appearance": setting(interval(0.0)), "class_colour-1.1": setting(interval(1.0))}
    checks = registered_checks(figures)
    lines = verdict_table(checks)
    assert len(lines) == 3 + len(checks)
    assert all(line.count("|") == 6 for line in lines[1:])
    assert lines[3].endswith(" | yes |") and "+0.0 [-1.0, +1.0]" in lines[3]
