"""What an exported model carries about itself, so it can be used without fada-tf.

Every value is a string (ONNX ``metadata_props`` holds strings); structured values are JSON.
The same dictionary goes into the ONNX model and, as one JSON file, beside the SavedModel.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

import fada_tf
from fada_tf.config import Config, to_dict
from fada_tf.data.classes import IGNORE_LABEL, class_table
from fada_tf.data.pipeline import IMAGENET_MEAN, IMAGENET_STD


def export_metadata(config: Config, checkpoint: str | Path, output: str, input_mode: str,
                    size: tuple[int, int] | None) -> dict[str, str]:
    """Class names and palette, normalisation, sizes, the modes and the source config."""
    table = class_table(config.data.classes)
    normalization = {"layout": "NHWC RGB", "scale": 1 / 255, "mean": list(IMAGENET_MEAN),
                     "std": list(IMAGENET_STD), "inside_graph": input_mode == "uint8"}
    return {
        "class_names": json.dumps(list(table.names)),
        "palette": json.dumps([list(c) for c in table.colours]),
        "ignore_label": str(IGNORE_LABEL),
        "normalization": json.dumps(normalization),
        "input": input_mode,
        "output": output,
        "size": json.dumps(list(size) if size is not None else None),
        "training_size": json.dumps(list(config.data.source.crop)),
        "eval_size": json.dumps(list(config.data.eval_size)),
        "backbone": config.model.backbone,
        "checkpoint": Path(checkpoint).name,
        "config": yaml.safe_dump(to_dict(config), sort_keys=False),
        "fada_tf_version": fada_tf.__version__,
    }
