"""Progress on stderr: a live bar on a terminal, periodic plain lines in logs, nothing at 0."""

import time

import pytest

from fada_tf.progress import Progress, format_duration


def test_log_lines_count_rate_eta_and_values(capsys, monkeypatch):
    clock = iter([100.0, 101.0, 102.0, 104.0, 104.0])   # start, then one reading per update
    monkeypatch.setattr(time, "perf_counter", lambda: next(clock))
    with Progress(4, "evaluate", "image", verbose=2, every_seconds=0) as progress:
        progress.update()
        progress.update(values={"loss": 0.123456})
        progress.update(2)
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        "evaluate: 1/4 images (25 %), 1 images/s, ETA 3 s",
        "evaluate: 2/4 images (50 %), 1 images/s, ETA 2 s, loss 0.1235",
        "evaluate: 4/4 images (100 %), 1 images/s, in 4 s, loss 0.1235",
    ]


def test_log_lines_wait_for_the_period_but_the_last_is_always_written(capsys):
    with Progress(50, "adapt", "step", verbose=2, every_seconds=3600) as progress:
        for _ in range(50):
            progress.update()
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("adapt: 50/50 steps (100 %)")


def test_an_unknown_total_or_an_early_stop_still_ends_with_a_line(capsys):
    with Progress(None, "pseudo labels", "batch", verbose=2, every_seconds=3600) as progress:
        progress.update(5)
    with pytest.raises(RuntimeError), Progress(10, "evaluate", "image", verbose=2, every_seconds=3600) as progress:
        progress.update(7)
        raise RuntimeError("stopped")
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("pseudo labels: 5 batches, ") and "ETA" not in lines[0]
    assert lines[1].startswith("evaluate: 7/10 images (70 %), ") and len(lines) == 2


def test_a_terminal_gets_a_bar_and_silence_is_silent(capsys):
    with Progress(3, "prepare", "pair", verbose=1) as progress:
        for _ in range(3):
            progress.update(values={"loss": 1.5})
    bar = capsys.readouterr().err
    assert "prepare: 100%" in bar and "3/3" in bar and "pair/s" in bar and "loss=1.5" in bar
    with Progress(3, "quiet", verbose=0) as progress:
        progress.update(3)
    assert capsys.readouterr().err == ""


def test_units_are_counted_in_plain_english(capsys):
    with Progress(2, "evaluate", "batch", verbose=2, every_seconds=0) as progress:
        progress.update(2)
    assert capsys.readouterr().err.startswith("evaluate: 2/2 batches (100 %), ")


@pytest.mark.parametrize("seconds,text", [(12.4, "12 s"), (187, "3 min 07 s"), (3720, "1 h 02 min")])
def test_durations_read_like_a_clock(seconds, text):
    assert format_duration(seconds) == text
