"""Raw release readers: each format's trap (palette indices, 16-bit red channel, label IDs)."""

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from fada_tf.data.raw.common import read_index_png
from fada_tf.data.raw.registry import raw_format
from fada_tf.errors import FadaError
from tests.support.raw_fixtures import (CITYSCAPES_TRAIN_ID, CROSSCITY_13, SYNTHIA_16,
                                        blocky_values, expected_train_ids, save_png,
                                        save_png16_rgb, write_cityscapes, write_crosscity,
                                        write_gta5, write_synthia)


def test_synthia_label_is_the_red_channel_of_a_16_bit_png(tmp_path):
    ids = blocky_values(range(23), (12, 16), seed=0).astype(np.uint16)
    green = np.full_like(ids, 4660)   # 0x1234: instance IDs above 255
    blue = np.full_like(ids, 3)       # "road" everywhere: a BGR reader would see this
    path = save_png16_rgb(tmp_path / "label.png", np.dstack([ids, green, blue]))
    values = raw_format("synthia").read_label(path)
    np.testing.assert_array_equal(values, ids)
    # The trap: an 8-bit reader (PIL) gets the high bytes, i.e. zeros, not the classes.
    assert not np.array_equal(np.asarray(Image.open(path).convert("RGB"))[..., 0], ids)


def test_synthia_8_bit_copies_are_read_too(tmp_path):
    ids = blocky_values(range(23), (12, 16), seed=1).astype(np.uint8)
    path = save_png(tmp_path / "label.png", np.dstack([ids, ids * 0 + 7, ids * 0 + 3]))
    np.testing.assert_array_equal(raw_format("synthia").read_label(path), ids)


def test_synthia_mapping_to_16_classes(tmp_path):
    values = np.array([[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 300]])
    train_ids, unknown = raw_format("synthia").to_train_ids(values)
    np.testing.assert_array_equal(train_ids, expected_train_ids(values, SYNTHIA_16))
    assert unknown == {23: 1, 300: 1}


def test_gta5_palette_indices_not_colours(tmp_path):
    ids = blocky_values(range(34), (12, 16), seed=2)
    path = save_png(tmp_path / "label.png", ids, palette=True)
    np.testing.assert_array_equal(read_index_png(path), ids)
    # The trap: tf.io.decode_png expands the palette to colours.
    colours = tf.io.decode_png(path.read_bytes()).numpy()
    assert colours.shape[-1] == 3 and not np.array_equal(colours[..., 0], ids)
    train_ids, unknown = raw_format("gta5").to_train_ids(read_index_png(path))
    np.testing.assert_array_equal(train_ids, expected_train_ids(ids, CITYSCAPES_TRAIN_ID))
    assert unknown == {}


def test_unknown_label_values_become_ignored_and_are_counted():
    values = np.array([[7, 34, 34, 200, 33]])
    train_ids, unknown = raw_format("gta5").to_train_ids(values)
    np.testing.assert_array_equal(train_ids, [[0, 255, 255, 255, 18]])
    assert unknown == {34: 2, 200: 1}


def test_rgb_label_is_refused_with_the_file_name(tmp_path):
    path = save_png(tmp_path / "label.png", np.zeros((4, 4, 3)))
    with pytest.raises(FadaError, match="label.png: expected a single-channel"):
        read_index_png(path)


@pytest.mark.parametrize("encoding,table", [
    ("labelid", CROSSCITY_13),
    ("trainid", {0: 0, 1: 1, 2: 2, 6: 3, 7: 4, 8: 5, 10: 6, 11: 7, 12: 8, 13: 9, 15: 10, 17: 11, 18: 12}),
    ("crosscity13", {i: i for i in range(13)}),
])
def test_crosscity_label_encodings(encoding, table):
    values = np.arange(256).reshape(16, 16)
    train_ids, _ = raw_format("crosscity", encoding).to_train_ids(values)
    np.testing.assert_array_equal(train_ids, expected_train_ids(values, table))


def test_listing_finds_pairs_and_orphans(tmp_path):
    write_gta5(tmp_path / "gta5", count=3)
    (tmp_path / "gta5" / "labels" / "00002.png").unlink()
    save_png(tmp_path / "gta5" / "labels" / "00009.png", np.zeros((4, 4)), palette=True)
    pairs = raw_format("gta5").list_pairs(tmp_path / "gta5", "train")
    assert [p.name for p in pairs] == ["00001", "00002", "00003", "00009"]
    assert not pairs[1].label.exists() and not pairs[3].image.exists()

    write_synthia(tmp_path / "synthia", count=2)
    assert [p.name for p in raw_format("synthia").list_pairs(tmp_path / "synthia", "train")] == ["0000000", "0000001"]

    write_cityscapes(tmp_path / "cs")
    val = raw_format("cityscapes").list_pairs(tmp_path / "cs", "val")
    assert [p.name for p in val] == [f"frankfurt_000000_{i:06d}" for i in range(3)]
    assert all(p.label.name.endswith("_gtFine_labelIds.png") for p in val)

    write_crosscity(tmp_path / "Rome", train=2, test=2)
    train = raw_format("crosscity").list_pairs(tmp_path / "Rome", "train")
    assert [p.name for p in train] == ["pic_train_0000", "pic_train_0001"] and train[0].label is None
    test = raw_format("crosscity").list_pairs(tmp_path / "Rome", "test")
    assert [p.label.name for p in test] == ["pic_test_0000_eval.png", "pic_test_0001_eval.png"]


def test_a_folder_of_another_layout_says_what_was_expected(tmp_path):
    with pytest.raises(FadaError, match=r"RGB not found: is --root a SYNTHIA-RAND-CITYSCAPES release"):
        raw_format("synthia").list_pairs(tmp_path, "train")
