"""``data check``: a clean dataset passes; missing, corrupt, mis-sized and unknown labels are listed."""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from fada_tf.cli.main import cli
from fada_tf.data.check import check
from fada_tf.data.prepare import PrepareOptions, prepare
from fada_tf.errors import FadaError
from tests.support.raw_fixtures import write_gta5, write_synthia


def class_pixels(expected, names):
    counts = sum(np.bincount(train.ravel(), minlength=256) for _, train in expected.values())
    return dict(zip(names, counts[: len(names)].tolist()))


@pytest.fixture
def gta5(tmp_path):
    expected = write_gta5(tmp_path / "raw", count=4)
    manifest = prepare(PrepareOptions("gta5", str(tmp_path / "raw")), str(tmp_path / "prepared"))
    return tmp_path, expected, manifest["class_names"]


def test_clean_prepared_and_raw_datasets_pass_with_exact_class_counts(gta5):
    tmp_path, expected, names = gta5
    for path, dataset in ((tmp_path / "prepared", None), (tmp_path / "raw", "gta5")):
        result = check(str(path), dataset)
        assert result["problems"] == [] and result["num_images"] == 4
        assert result["class_pixels"] == class_pixels(expected, names)
        assert result["kind"] == ("prepared" if dataset is None else "raw")


def test_json_output_and_exit_code(gta5):
    tmp_path, expected, names = gta5
    ok = CliRunner().invoke(cli, ["data", "check", str(tmp_path / "prepared"), "--json"])
    assert ok.exit_code == 0, ok.output
    result = json.loads(ok.stdout)
    assert {"num_images", "class_pixels", "problems"} <= set(result)
    assert result["class_pixels"] == class_pixels(expected, names)

    (tmp_path / "prepared" / "labels" / "train" / "00002.png").unlink()
    bad = CliRunner().invoke(cli, ["data", "check", str(tmp_path / "prepared"), "--json"])
    assert bad.exit_code == 1
    problems = json.loads(bad.stdout)["problems"]
    assert len(problems) == 1 and problems[0].endswith("labels/train/00002.png: missing")

    text = CliRunner().invoke(cli, ["data", "check", str(tmp_path / "prepared")])
    assert text.exit_code == 1 and "1 problem(s):" in text.stdout and "road" in text.stdout


def test_prepared_dataset_problems_name_the_file(gta5):
    tmp_path, _, _ = gta5
    root = tmp_path / "prepared"
    Image.fromarray(np.full((24, 32), 40, np.uint8)).save(root / "labels" / "train" / "00001.png")
    Image.fromarray(np.zeros((20, 32), np.uint8)).save(root / "labels" / "train" / "00003.png")
    (root / "images" / "train" / "00004.png").write_bytes(b"not a png")
    problems = check(str(root))["problems"]
    assert any("00001.png: 768 label pixels with values 40, not train IDs of 19 classes" in p for p in problems)
    assert any("00001.png: class statistics of class_stats.json disagree" in p for p in problems)
    assert any("00003.png: label is 32x20, its image 32x24" in p for p in problems)
    assert any("images/train/00004.png: cannot decode the image" in p for p in problems)


def test_raw_release_problems_name_the_file(tmp_path):
    raw = tmp_path / "gta5"
    write_gta5(raw, count=4, label_shapes={"00003": (24, 30)})
    (raw / "images" / "00002.png").unlink()
    label = Image.open(raw / "labels" / "00001.png")
    ids = np.asarray(label).copy()
    ids[0, :5] = 77
    edited = Image.fromarray(ids, mode="P")
    edited.putpalette(label.getpalette())
    edited.save(raw / "labels" / "00001.png")
    result = check(str(raw), "gta5")
    assert result["unknown_label_pixels"] == 5
    problems = result["problems"]
    assert len(problems) == 3
    assert problems[0].endswith("labels/00001.png: 5 pixels with unknown label values 77 (ignored as 255)")
    assert problems[1].endswith("images/00002.png: missing")
    assert "labels/00003.png: label is 30x24 but its image is 32x24" in problems[2]


def test_tfrecord_dataset_is_checked_and_synthia_reads_the_red_channel(tmp_path):
    expected = write_synthia(tmp_path / "raw", count=3)
    manifest = prepare(PrepareOptions("synthia", str(tmp_path / "raw"), storage="tfrecord", shards=2),
                       str(tmp_path / "prepared"))
    result = check(str(tmp_path / "prepared"))
    assert result["problems"] == [] and result["num_images"] == 3
    assert result["class_pixels"] == class_pixels(expected, manifest["class_names"])


def test_a_folder_without_manifest_needs_the_dataset_name(tmp_path):
    with pytest.raises(FadaError, match=r"no manifest.json\); to check a raw release, say which: --dataset gta5"):
        check(str(tmp_path))
