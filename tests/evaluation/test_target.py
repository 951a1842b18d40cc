"""fada_tf.evaluation.target: the target validation split's mIoU and its example picture."""

import numpy as np
from PIL import Image

from fada_tf.config import load_config
from fada_tf.data.classes import class_table
from fada_tf.data.datasets import split_pairs
from fada_tf.evaluation.target import evaluate_target, save_target_examples
from fada_tf.models import build_segmentor
from fada_tf.visualize import colorize

SMALL = ["model.tiny_width=4", "data.synthetic.height=32", "data.synthetic.width=48",
         "data.eval_size=[32,48]", "data.synthetic.target_val_images=5"]


def small():
    config = load_config("configs/synthetic.yaml", SMALL)
    table = class_table(config.data.classes)
    return config, table, build_segmentor(config.model, table.num_classes, seed=0)


def test_every_val_image_is_evaluated_and_no_split_means_no_result():
    config, table, segmentor = small()
    result = evaluate_target(config, segmentor, table, verbose=0)
    assert result["num_images"] == 5 and list(result["per_class_iou"]) == list(table.names)
    config.data.target.val_split = ""
    assert evaluate_target(config, segmentor, table, verbose=0) is None


def test_examples_show_image_ground_truth_and_prediction_per_row(tmp_path):
    config, table, segmentor = small()
    path = save_target_examples(config, segmentor, table, tmp_path / "examples.png", count=4)
    picture = np.asarray(Image.open(path).convert("RGB"))
    height, width, gap, scale = 32, 48, 2, 2
    assert picture.shape == (scale * (4 * (height + gap) - gap), scale * (3 * (width + gap) - gap), 3)
    raw = list(split_pairs(config.data, "target", "val").take(4).as_numpy_iterator())
    for row, (image, label) in enumerate(raw):
        top = row * (height + gap) * scale
        tiles = [picture[top:top + height * scale:scale, left:left + width * scale:scale]
                 for left in (0, (width + gap) * scale)]
        np.testing.assert_array_equal(tiles[0], image)
        np.testing.assert_array_equal(tiles[1], colorize(label, table))
    assert [p.name for p in tmp_path.iterdir()] == ["examples.png"]
