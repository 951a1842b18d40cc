"""eval (multi-scale, predictions, checkpoint folders, saved PNGs), ccd, predict and distill
from the command line, on one tiny trained run."""

import csv
import json
import shutil

import numpy as np
import pytest
from PIL import Image

from tests.support.cli_invoke import invoke

TINY = ["--set", "model.tiny_width=4", "--set", "model.discriminator_channels=[8,8]",
        "--set", "source.steps=4", "--set", "adapt.steps=3", "--set", "source.batch_size=2",
        "--set", "adapt.batch_size=2", "--set", "run.log_every=2", "--set", "run.checkpoint_every=2",
        "--set", "data.synthetic.source_images=8", "--set", "data.synthetic.target_train_images=6",
        "--set", "data.synthetic.target_val_images=5", "--set", "data.eval_batch_size=2"]


def as_json(*args):
    return json.loads(invoke(*args, "--json").stdout)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "run"
    invoke("train", "--output", path, *TINY)
    return path


def ground_truth_pngs(run_dir, folder):
    from fada_tf.config import load_config
    from fada_tf.data.datasets import split_pairs
    from fada_tf.evaluation.label_files import write_label_png

    folder.mkdir()
    config = load_config(run_dir / "config.yaml")
    for i, (_, label) in enumerate(split_pairs(config.data, "target", "val").as_numpy_iterator()):
        write_label_png(folder / f"{i:05d}.png", label)
    return folder


@pytest.mark.slow
def test_eval_json_single_and_multi_scale(run_dir):
    single = as_json("eval", "--run", run_dir)
    assert set(single) == {"miou", "per_class_iou", "pixel_acc", "num_images", "scales", "flip",
                           "checkpoint", "split", "confusion"}
    confusion = np.array(single["confusion"])  # rows: labels, columns: predictions
    assert confusion.shape == (len(single["per_class_iou"]),) * 2
    assert np.isclose(np.trace(confusion) / confusion.sum(), single["pixel_acc"])
    assert (single["scales"], single["flip"], single["num_images"]) == ([1.0], False, 5)
    mst = as_json("eval", "--run", run_dir, "--mst")
    assert (mst["scales"], mst["flip"]) == ([0.7, 1.0, 1.3], True)
    assert mst["miou"] != single["miou"]
    scales_only = as_json("eval", "--run", run_dir, "--scales", "0.7,1.0,1.3", "--no-flip")
    assert (scales_only["scales"], scales_only["flip"]) == ([0.7, 1.0, 1.3], False)
    train = as_json("eval", "--run", run_dir, "--split", "train")
    assert train["num_images"] == 6 and train["split"] == "train"
    text = invoke("eval", "--run", run_dir, "--mst").stdout
    assert "scales 0.7, 1, 1.3 + flips" in text and f"{100 * mst['miou']:.1f}" in text


@pytest.mark.slow
def test_saved_predictions_evaluate_to_the_same_miou(run_dir, tmp_path):
    direct = as_json("eval", "--run", run_dir, "--mst", "--save-predictions", tmp_path / "preds")
    assert sorted(p.name for p in (tmp_path / "preds" / "labels").iterdir())[-1] == "00004.png"
    assert len(list((tmp_path / "preds" / "color").iterdir())) == 5
    labels = ground_truth_pngs(run_dir, tmp_path / "gt")
    files = as_json("eval", "--predictions", tmp_path / "preds" / "labels", "--labels", labels,
                    "--run", run_dir)
    assert files["miou"] == pytest.approx(direct["miou"], abs=1e-12)
    assert files["per_class_iou"] == pytest.approx(direct["per_class_iou"], abs=1e-12)
    again = invoke("eval", "--run", run_dir, "--save-predictions", tmp_path / "preds", ok=False)
    assert again.exit_code != 0 and "already exists" in again.output


@pytest.mark.slow
def test_a_folder_of_checkpoints_gives_a_csv_and_the_best(run_dir, tmp_path):
    result = as_json("eval", "--run", run_dir, "--checkpoints", run_dir / "checkpoints",
                     "--csv", tmp_path / "new" / "sweep.csv")
    names = sorted(p.name for p in (run_dir / "checkpoints").glob("*.weights.h5"))
    assert [r["checkpoint"].split("/")[-1] for r in result["checkpoints"]] == names
    rows = list(csv.DictReader(open(tmp_path / "new" / "sweep.csv")))
    assert [r["checkpoint"] for r in rows] == [r["checkpoint"] for r in result["checkpoints"]]
    assert [float(r["miou"]) for r in rows] == pytest.approx([r["miou"] for r in result["checkpoints"]], abs=1e-6)
    assert result["best"]["miou"] == max(r["miou"] for r in result["checkpoints"])
    latest = as_json("eval", "--run", run_dir)
    assert any(r["miou"] == pytest.approx(latest["miou"], abs=1e-12) for r in result["checkpoints"])


@pytest.mark.slow
def test_ccd_with_comparison_and_plot(run_dir, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(run_dir, other)
    result = as_json("ccd", "--run", run_dir, "--compare", other, "--num-images", 3,
                     "--plot", tmp_path / "new" / "ccd.png")
    assert set(result) >= {"mean_ccd", "per_class_ccd", "num_images", "compare", "plot"}
    assert result["num_images"] == 6
    assert result["compare"][0]["per_class_ccd"] == result["per_class_ccd"]
    values = [v for v in result["per_class_ccd"].values() if v is not None]
    assert result["mean_ccd"] == pytest.approx(np.mean(values))
    assert Image.open(tmp_path / "new" / "ccd.png").size[0] > 300


@pytest.mark.slow
def test_predict_writes_masks_and_overlays(run_dir, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (50, 90, 3), np.uint8)).save(images / "a.png")
    Image.fromarray(np.zeros((64, 128, 3), np.uint8)).save(images / "b.jpg")
    result = as_json("predict", images, "--out", tmp_path / "out", "--run", run_dir, "--mst")
    assert [r["image"].split("/")[-1] for r in result["images"]] == ["a.png", "b.jpg"]
    for stem, size in (("a", (90, 50)), ("b", (128, 64))):
        for kind in ("color", "overlay", "labels"):
            assert Image.open(tmp_path / "out" / f"{stem}_{kind}.png").size == size
    assert sum(result["images"][0]["class_fractions"].values()) == pytest.approx(1.0)


@pytest.mark.slow
def test_distill_command_writes_a_student_run(run_dir, tmp_path):
    result = as_json("distill", "--teacher", run_dir, "--output", tmp_path / "student",
                     "--set", "distill.steps=2", "--set", "distill.batch_size=2",
                     "--set", "distill.confidence_threshold=0.3")
    assert set(result) == {"run_dir", "stages", "teacher", "pseudo_labels"}
    assert result["teacher"]["miou"] == pytest.approx(as_json("eval", "--run", run_dir)["miou"], abs=1e-12)
    assert result["pseudo_labels"]["num_images"] == 6
    assert len(list((tmp_path / "student" / "pseudo_labels").glob("*.png"))) == 6
    student = as_json("eval", "--run", tmp_path / "student")
    assert student["miou"] == pytest.approx(result["stages"]["distill"]["miou"], abs=1e-12)
    assert "distill-000002" in student["checkpoint"]


@pytest.mark.slow
@pytest.mark.parametrize("args,message", [
    (["eval", "--predictions", "somewhere"], "give both --predictions DIR and --labels DIR"),
    (["eval", "--predictions", "a", "--labels", "b", "--mst"], "--predictions evaluates saved files"),
    (["eval", "--run", "{run}", "--scales", "0,1"], "--scales must be positive numbers"),
    (["eval", "--run", "{run}", "--checkpoints", "{run}/logs"], "holds no *.weights.h5 checkpoints"),
    (["eval", "--run", "{run}", "--csv", "x.csv"], "--csv is the table of --checkpoints FOLDER"),
    (["ccd", "--run", "{run}", "--plot", "ccd.txt"], "use a .png, .pdf or .svg file name"),
    (["predict", "missing.png", "--out", "o", "--run", "{run}"], "no such image or folder: missing.png"),
    (["distill", "--teacher", "no/such/run"], "no/such/run is not a run directory"),
])
def test_bad_input_is_a_one_line_error(run_dir, args, message):
    result = invoke(*[a.replace("{run}", str(run_dir)) for a in args], ok=False)
    assert result.exit_code == 1 and message in result.output
    assert isinstance(result.exception, SystemExit)
