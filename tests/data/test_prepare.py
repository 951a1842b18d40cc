"""``prepare``: canonical files equal the expected train IDs; bad pairs, sizes, atomicity, resume."""

import io
import json

import numpy as np
import pytest
from PIL import Image

from fada_tf.data import prepare as prepare_module
from fada_tf.data.prepare import PrepareOptions, prepare
from fada_tf.errors import FadaError
from tests.support.raw_fixtures import (CITYSCAPES_TRAIN_ID, blocky_values, expected_train_ids,
                                        write_cityscapes, write_crosscity, write_gta5,
                                        write_synthia)


def read_png(path):
    return np.asarray(Image.open(path))


def assert_prepared(out, split, expected, labelled=True):
    manifest = json.loads((out / "manifest.json").read_text())
    stats = json.loads((out / "class_stats.json").read_text())
    items = manifest["splits"][split]["items"]
    assert [i["name"] for i in items] == sorted(expected)
    for index, item in enumerate(items):
        image, train_ids = expected[item["name"]]
        np.testing.assert_array_equal(read_png(out / item["image"]), image)
        assert (item["height"], item["width"]) == image.shape[:2]
        if labelled:
            np.testing.assert_array_equal(read_png(out / item["label"]), train_ids)
            counts = np.bincount(train_ids.ravel(), minlength=256)[: len(manifest["class_names"])]
            assert stats["splits"][split][index] == counts.tolist()
    return manifest


def test_gta5_synthia_cityscapes_become_train_id_pngs(tmp_path):
    expected = write_gta5(tmp_path / "gta5")
    manifest = assert_prepared(*_prepare(tmp_path, "gta5"), "train", expected)
    assert manifest["classes"] == "cityscapes19" and manifest["dataset"] == "gta5"
    assert manifest["report"]["train"] == {"images": 6, "skipped": [], "labels_resized": [],
                                           "unknown_label_pixels": {}}

    expected = write_synthia(tmp_path / "synthia")
    manifest = assert_prepared(*_prepare(tmp_path, "synthia"), "train", expected)
    assert manifest["classes"] == "synthia16" and len(manifest["class_names"]) == 16

    expected = write_cityscapes(tmp_path / "cityscapes")
    out, = _prepare(tmp_path, "cityscapes")
    for split in ("train", "val"):
        assert_prepared(out, split, {s: v for (sp, s), v in expected.items() if sp == split})
    assert not (tmp_path / ".partial-cityscapes_out").exists()


def test_crosscity_keeps_jpeg_bytes_and_labels_only_test(tmp_path):
    expected = write_crosscity(tmp_path / "Rome")
    out, = _prepare(tmp_path, "crosscity", root="Rome")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["classes"] == "crosscity13"
    assert not manifest["splits"]["train"]["labelled"] and manifest["splits"]["test"]["labelled"]
    for split in ("train", "test"):
        for item in manifest["splits"][split]["items"]:
            data, train_ids = expected[(split, item["name"])]
            assert (out / item["image"]).read_bytes() == data and item["image"].endswith(".jpg")
            if train_ids is not None:
                np.testing.assert_array_equal(read_png(out / item["label"]), train_ids)
            else:
                assert item["label"] is None
    stats = json.loads((out / "class_stats.json").read_text())
    assert set(stats["splits"]) == {"test"}


def _prepare(tmp_path, dataset, root=None, **options):
    out = tmp_path / f"{dataset}_out"
    prepare(PrepareOptions(dataset, str(tmp_path / (root or dataset)), **options), str(out), workers=2)
    return (out,)


def test_size_mismatch_is_reported_skipped_or_fixed_only_when_asked(tmp_path):
    write_gta5(tmp_path / "gta5", count=4, label_shapes={"00002": (22, 30)})
    out = tmp_path / "out"
    with pytest.raises(FadaError, match=r"00002.png: label is 30x22 but its image is 32x24 \(--fix-sizes"):
        prepare(PrepareOptions("gta5", str(tmp_path / "gta5")), str(out))
    assert not out.exists()
    problems = json.loads((tmp_path / ".partial-out" / "problems.json").read_text())
    assert len(problems) == 1

    skipped = prepare(PrepareOptions("gta5", str(tmp_path / "gta5"), skip_bad=True), str(tmp_path / "skip"))
    assert [i["name"] for i in skipped["splits"]["train"]["items"]] == ["00001", "00003", "00004"]
    assert len(skipped["report"]["train"]["skipped"]) == 1

    fixed = prepare(PrepareOptions("gta5", str(tmp_path / "gta5"), fix_sizes=True), str(tmp_path / "fixed"))
    assert fixed["report"]["train"]["labels_resized"] == ["00002"]
    raw = expected_train_ids(blocky_values(range(34), (22, 30), seed=1), CITYSCAPES_TRAIN_ID)
    rows = np.floor((np.arange(24) + 0.5) * 22 / 24).astype(int)   # nearest neighbour, pixel centres
    cols = np.floor((np.arange(32) + 0.5) * 30 / 32).astype(int)
    np.testing.assert_array_equal(read_png(tmp_path / "fixed" / "labels" / "train" / "00002.png"),
                                  raw[rows][:, cols])


def test_missing_and_corrupt_files_name_the_file_and_skip_bad_counts_them(tmp_path):
    raw = tmp_path / "gta5"
    write_gta5(raw, count=5)
    (raw / "labels" / "00002.png").unlink()
    (raw / "images" / "00003.png").unlink()
    data = (raw / "images" / "00004.png").read_bytes()
    (raw / "images" / "00004.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(FadaError, match=r"3 bad pair\(s\) in gta5 train, the first: .*labels/00002.png: missing"):
        prepare(PrepareOptions("gta5", str(raw)), str(tmp_path / "out"))
    problems = json.loads((tmp_path / ".partial-out" / "problems.json").read_text())
    assert "images/00003.png: missing" in problems[1]
    assert "images/00004.png: cannot read image" in problems[2]
    manifest = prepare(PrepareOptions("gta5", str(raw), skip_bad=True), str(tmp_path / "ok"))
    assert [i["name"] for i in manifest["splits"]["train"]["items"]] == ["00001", "00005"]
    assert len(manifest["report"]["train"]["skipped"]) == 3


def test_unknown_label_values_are_counted_in_the_report(tmp_path):
    raw = tmp_path / "gta5"
    write_gta5(raw, count=2)
    ids = np.asarray(Image.open(raw / "labels" / "00001.png")).copy()
    ids[:2, :3] = 200
    image = Image.fromarray(ids, mode="P")
    image.putpalette(Image.open(raw / "labels" / "00001.png").getpalette())
    image.save(raw / "labels" / "00001.png")
    manifest = prepare(PrepareOptions("gta5", str(raw)), str(tmp_path / "out"))
    assert manifest["report"]["train"]["unknown_label_pixels"] == {"200": 6}
    assert (read_png(tmp_path / "out" / "labels" / "train" / "00001.png")[:2, :3] == 255).all()


def test_interrupted_prepare_leaves_no_output_and_resumes(tmp_path, monkeypatch):
    raw = tmp_path / "gta5"
    write_gta5(raw, count=6)
    fresh = prepare(PrepareOptions("gta5", str(raw)), str(tmp_path / "fresh"))

    calls = []
    real_read_pair = prepare_module.read_pair

    def interrupted(fmt, pair, fix_sizes=False):
        calls.append(pair.name)
        if len(calls) >= 4:  # the 4th pair and any the worker starts while the main thread stops
            raise KeyboardInterrupt
        return real_read_pair(fmt, pair, fix_sizes)

    monkeypatch.setattr(prepare_module, "read_pair", interrupted)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        prepare(PrepareOptions("gta5", str(raw)), str(out), workers=1)
    assert not out.exists() and (tmp_path / ".partial-out").is_dir()

    with pytest.raises(FadaError, match=r"interrupted run with other options \(fix_sizes\)"):
        prepare(PrepareOptions("gta5", str(raw), fix_sizes=True), str(out))

    calls.clear()
    monkeypatch.setattr(prepare_module, "read_pair", lambda *a: calls.append(a[1].name) or real_read_pair(*a))
    resumed = prepare(PrepareOptions("gta5", str(raw)), str(out), workers=1)
    # The pairs finished before the interruption are not read again; the others are, once each.
    assert calls == ["00004", "00005", "00006"]
    assert resumed["splits"] == fresh["splits"]
    assert sorted(p.name for p in out.iterdir()) == ["class_stats.json", "images", "labels", "manifest.json"]
    assert not (tmp_path / ".partial-out").exists()
    for item in resumed["splits"]["train"]["items"]:
        assert (out / item["label"]).read_bytes() == (tmp_path / "fresh" / item["label"]).read_bytes()

    with pytest.raises(FadaError, match="already exists"):
        prepare(PrepareOptions("gta5", str(raw)), str(out))


def test_tfrecord_storage_holds_the_same_pairs(tmp_path):
    from fada_tf.data.tfrecord import read_records

    expected = write_cityscapes(tmp_path / "cityscapes", counts=(("train", "ulm", 5),))
    manifest = prepare(PrepareOptions("cityscapes", str(tmp_path / "cityscapes"), ("train",), storage="tfrecord",
                                      shards=2), str(tmp_path / "out"))
    entry = manifest["splits"]["train"]
    assert entry["shards"] == ["tfrecord/train-00000-of-00002.tfrecord", "tfrecord/train-00001-of-00002.tfrecord"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["class_stats.json", "manifest.json", "tfrecord"]
    records = list(read_records(str(tmp_path / "out"), entry["shards"]))
    assert [r[0] for r in records] == [i["name"] for i in entry["items"]]
    for name, image, label in records:
        want_image, want_label = expected[("train", name)]
        np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(image))), want_image)
        np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(label))), want_label)


def test_bad_options_are_errors(tmp_path):
    write_gta5(tmp_path / "gta5", count=1)
    with pytest.raises(FadaError, match="gta5 has splits train, not val"):
        prepare(PrepareOptions("gta5", str(tmp_path / "gta5"), splits=("val",)), str(tmp_path / "o"))
    with pytest.raises(FadaError, match="is not a folder"):
        prepare(PrepareOptions("gta5", str(tmp_path / "nothing")), str(tmp_path / "o"))
    with pytest.raises(FadaError, match=r"is not a gta5 release: it should hold images/ and labels/ "
                                        r"\(images/\*.png, labels/\*.png\), and no folder inside it does"):
        (tmp_path / "empty" / "images").mkdir(parents=True)
        prepare(PrepareOptions("gta5", str(tmp_path / "empty")), str(tmp_path / "o"))


@pytest.mark.parametrize("dataset,writer,inside", [
    ("synthia", write_synthia, "RAND_CITYSCAPES"),                  # the release's one folder
    ("cityscapes", write_cityscapes, "downloads/cityscapes"),       # two levels down
])
def test_the_folder_a_release_unpacks_to_is_found(tmp_path, dataset, writer, inside):
    writer(tmp_path / "raw" / inside)
    messages = []
    manifest = prepare(PrepareOptions(dataset, str(tmp_path / "raw")), str(tmp_path / "out"),
                       log=messages.append)
    assert manifest["prepared_with"]["root"] == str((tmp_path / "raw" / inside).resolve())
    assert f"{dataset} release found in {(tmp_path / 'raw' / inside).resolve()}" in messages
    assert all(entry["items"] for entry in manifest["splits"].values())


def test_several_releases_under_the_root_are_named(tmp_path):
    for city in ("Rio", "Rome"):
        write_crosscity(tmp_path / "NTHU" / city, train=1, test=1)
    with pytest.raises(FadaError, match=r"holds 2 crosscity releases; pass one of: .*NTHU/Rio, .*NTHU/Rome$"):
        prepare(PrepareOptions("crosscity", str(tmp_path / "NTHU")), str(tmp_path / "o"))
