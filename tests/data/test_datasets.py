"""``fada_tf.data.datasets``: training and evaluation read prepared datasets: exact pairs, class
remapping, class-balanced order, TFRecords, and config errors that say what to run.

The prepared datasets are tests/data/conftest.py's ``data``; the aligned crops and flips of
their batches are checked in tests/data/test_pipeline.py."""

import json
import shutil

import numpy as np
import pytest

from fada_tf.config import load_config
from fada_tf.data.datasets import check_data, split_pairs, stage_batches, training_pairs
from fada_tf.data.sampler import class_balanced_list
from fada_tf.errors import ConfigError, FadaError
from tests.support.prepared_data import experiment

# Cityscapes train ID -> synthia16 index, written out from the paper's class list.
CITYSCAPES_TO_16 = {0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 7: 7, 8: 8, 10: 9, 11: 10, 12: 11,
                    13: 12, 15: 13, 17: 14, 18: 15}


def config(root, *args):
    return experiment(root, *args).data


def test_split_pairs_are_the_prepared_pairs_in_order_from_png_and_tfrecord(data):
    root, found = data
    for folder in ("gta5", "gta5_tfrecord"):
        cfg = config(root, "cityscapes19", "gta5", "cityscapes", f"data.source.root={root / folder}")
        pairs = list(split_pairs(cfg, "source", "train").as_numpy_iterator())
        assert len(pairs) == 6
        for (image, label), name in zip(pairs, sorted(found["gta5"])):
            np.testing.assert_array_equal(image, found["gta5"][name][0])
            np.testing.assert_array_equal(label, found["gta5"][name][1])


def test_a_16_class_experiment_reads_cityscapes_with_the_other_classes_ignored(data):
    root, found = data
    cfg = config(root, "synthia16", "synthia", "cityscapes")
    labels = [label for _, label in split_pairs(cfg, "target", "val").as_numpy_iterator()]
    expected = [found["cityscapes"][key][1] for key in sorted(found["cityscapes"]) if key[0] == "val"]
    for label, train19 in zip(labels, expected):
        want = np.full_like(train19, 255)
        for cityscapes_id, index in CITYSCAPES_TO_16.items():
            want[train19 == cityscapes_id] = index
        np.testing.assert_array_equal(label, want)


def test_shuffled_stream_visits_every_image_once_per_pass(data):
    root, found = data
    for folder in ("gta5", "gta5_tfrecord"):
        cfg = config(root, "cityscapes19", "gta5", "cityscapes", f"data.source.root={root / folder}")
        names = {found["gta5"][n][0].tobytes(): n for n in found["gta5"]}
        stream = [names[image.tobytes()] for image, _ in training_pairs(cfg, "source", 3, True).take(12).as_numpy_iterator()]
        assert sorted(stream[:6]) == sorted(found["gta5"]) and sorted(stream[6:]) == sorted(found["gta5"])
        again = [names[image.tobytes()] for image, _ in training_pairs(cfg, "source", 3, True).take(12).as_numpy_iterator()]
        assert stream == again


def test_class_balanced_stream_draws_from_the_sampler_list(data):
    root, found = data
    cfg = config(root, "cityscapes19", "gta5", "cityscapes")
    stats = np.array(json.loads((root / "gta5" / "class_stats.json").read_text())["splits"]["train"])
    drawn = class_balanced_list(stats > 0, 3000, np.random.RandomState(7))
    names = sorted(found["gta5"])
    # The stream is the list in a shuffled order: the same images as often as the list has them.
    images = [image for image, _ in training_pairs(cfg, "source", 7, True, class_balanced_draws=3000)
              .take(len(drawn)).as_numpy_iterator()]
    counts = [sum(np.array_equal(image, found["gta5"][name][0]) for image in images) for name in names]
    assert counts == np.bincount(drawn, minlength=len(names)).tolist()


def test_an_unlabelled_target_split_feeds_adaptation(data):
    root, _ = data
    cfg = experiment(root, "crosscity13", "cityscapes", "crosscity", "adapt.target_images.resize=[24, 32]",
                     "adapt.target_images.crop=[16, 16]", "data.source.train_split=train",
                     "adapt.batch_size=2")
    images = next(iter(stage_batches(cfg, "adapt", "target", seed=0)))
    assert images.shape == (2, 16, 16, 3)
    with pytest.raises(FadaError, match=r"split train of .*crosscity has no labels"):
        split_pairs(cfg.data, "target", "train")


def test_config_mistakes_say_what_to_run_or_set(data, tmp_path):
    root, _ = data
    with pytest.raises(FadaError, match=r"data.source.root is empty: set it to a folder made by "
                                        r"`fada-tf data prepare --dataset gta5"):
        split_pairs(config(root, "cityscapes19", "gta5", "cityscapes", "data.source.root=''"), "source", "train")
    with pytest.raises(FadaError, match=r"is not a prepared dataset \(no manifest.json\); make it with "
                                        r"`fada-tf data prepare --dataset gta5 --root RAW_GTA5 --out /no/such`"):
        split_pairs(config(root, "cityscapes19", "gta5", "cityscapes", "data.source.root=/no/such"), "source", "train")
    with pytest.raises(FadaError, match=r"was prepared from cityscapes, but data.source.dataset = gta5"):
        split_pairs(config(root, "cityscapes19", "gta5", "cityscapes", f"data.source.root={root / 'cityscapes'}"),
                    "source", "train")
    with pytest.raises(FadaError, match=r"has no split 'test' \(it has train, val\); prepare it with .*--split test"):
        split_pairs(config(root), "target", "test")
    with pytest.raises(FadaError, match=r"data.classes = cityscapes19 has terrain, truck, train, which .*synthia "
                                        r"\(synthia16\) does not label; set data.classes to synthia16"):
        split_pairs(config(root, "cityscapes19", "synthia"), "source", "train")

    empty = tmp_path / "gta5"
    shutil.copytree(root / "gta5", empty)
    manifest = json.loads((empty / "manifest.json").read_text())
    manifest["splits"]["train"]["items"] = []
    (empty / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(FadaError, match=r"split train of .* is empty"):
        split_pairs(config(tmp_path), "source", "train")


def test_class_balanced_sampling_is_refused_where_it_cannot_work(data):
    root, _ = data
    cfg = config(root, "cityscapes19", "gta5", "cityscapes", f"data.source.root={root / 'gta5_tfrecord'}")
    with pytest.raises(FadaError, match="prepare the dataset with --format png"):
        training_pairs(cfg, "source", 0, True, class_balanced_draws=3000)
    with pytest.raises(FadaError, match="needs a prepared dataset, not synthetic data"):
        training_pairs(load_config(None).data, "source", 0, True, class_balanced_draws=3000)
    with pytest.raises(ConfigError, match="adapt.target_images.class_balanced must be false"):
        load_config(None, ["adapt.target_images.class_balanced=true"])


def test_check_data_finds_every_problem_a_run_would_meet_later(data):
    root, _ = data
    check_data(experiment(root, "cityscapes19", "gta5", "cityscapes", "data.target.val_split=val"))
    check_data(load_config(None))   # synthetic: nothing to check
    with pytest.raises(FadaError, match=r"has no split 'test'"):
        check_data(experiment(root, "cityscapes19", "gta5", "cityscapes", "data.target.val_split=test"))
    with pytest.raises(FadaError, match="prepare the dataset with --format png"):
        check_data(experiment(root, "cityscapes19", "gta5", "cityscapes", f"data.source.root={root / 'gta5_tfrecord'}",
                              "adapt.source_images.class_balanced=true"))
    with pytest.raises(FadaError, match="needs a prepared dataset, not synthetic data"):
        check_data(load_config(None, ["source.source_images.class_balanced=true"]))
