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
from fada_tf.config.recipe import checkpoint_stage, eval_size, final_stage, stage_streams
from fada_tf.data.classes import IGNORE_LABEL, class_table


def export_metadata(config: Config, checkpoint: str | Path, output: str, input_mode: str,
                    size: tuple[int, int] | None) -> dict[str, str]:
    """Class names and palette, normalisation, sizes, the modes and the source config."""
    table = class_table(config.data.classes)
    norm = config.model.normalization
    # x = (image[..., channels] * scale - mean) / std, image being NHWC RGB bytes.
    normalization = {"layout": "NHWC RGB", "channels": [2, 1, 0] if norm.to_bgr255 else [0, 1, 2],
                     "scale": 1.0 if norm.to_bgr255 else 1 / 255, "mean": list(norm.mean),
                     "std": list(norm.std), "inside_graph": input_mode == "uint8"}
    stage = checkpoint_stage(checkpoint) or final_stage(config)
    stream = next(iter(stage_streams(config, stage).values()))   # the labelled images
    return {
        "class_names": json.dumps(list(table.names)),
        "palette": json.dumps([list(c) for c in table.colours]),
        "ignore_label": str(IGNORE_LABEL),
        "normalization": json.dumps(normalization),
        "input": input_mode,
        "output": output,
        "size": json.dumps(list(size) if size is not None else None),
        "training_size": json.dumps(list(stream.crop or stream.resize)),
        "eval_size": json.dumps(eval_size(config, stage)),
        "backbone": config.model.backbone,
        "checkpoint": Path(checkpoint).name,
        "config": yaml.safe_dump(to_dict(config), sort_keys=False),
        "fada_tf_version": fada_tf.__version__,
    }
