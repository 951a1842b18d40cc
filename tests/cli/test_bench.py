"""``fada-tf bench train-step``: one JSON object whose numbers agree with each other."""

import json

import pytest

from tests.support.cli_invoke import run_process


def bench(*args):
    return run_process("bench", "train-step", *args, check=False)


def test_train_step_json_has_consistent_positive_numbers():
    done = bench("--backbone", "tiny", "--size", "32x48", "--batch", "2", "--steps", "2",
                 "--warmup", "1", "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert set(result) == {"images_per_s", "step_s_median", "peak_rss_mb", "backbone", "size",
                           "batch", "precision", "jit", "recompute", "aspp_method", "strategy",
                           "replicas", "step_tflop", "tflop_per_s", "matmul_tflop_per_s",
                           "fraction_of_matmul_rate"}
    assert result["step_s_median"] > 0 and result["images_per_s"] > 0 and result["peak_rss_mb"] > 0
    assert result["images_per_s"] == pytest.approx(2 * 2 / result["step_s_median"], rel=1e-6)
    assert result["step_tflop"] > 0 and result["matmul_tflop_per_s"] > 0
    assert result["tflop_per_s"] == pytest.approx(result["step_tflop"] / result["step_s_median"])
    assert result["fraction_of_matmul_rate"] == pytest.approx(
        result["tflop_per_s"] / result["matmul_tflop_per_s"])
    assert result["aspp_method"] == "tap_products"   # "auto" on a machine without a GPU
    assert (result["backbone"], result["size"], result["batch"]) == ("tiny", [32, 48], 2)
    assert (result["precision"], result["jit"], result["recompute"], result["replicas"]) == \
        ("float32", False, False, 1)
    assert "step 2/2" in done.stderr and "2048x2048 matrix product" in done.stderr


@pytest.mark.parametrize("option, value", [("--size", "12x"), ("--size", "12x20"),
                                           ("--batch", "0"), ("--precision", "float64"),
                                           ("--aspp-method", "taps")])
def test_bad_input_is_one_line_naming_the_option(option, value):
    done = bench(option, value)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    (error,) = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert option in error and value in error
