"""Time per image of evaluation with DeepLabV2 ResNet-101 at 1024x512, single scale and --mst.

Runs the code path of ``fada-tf eval`` (``evaluation_dataset`` → ``evaluate``) on random
2048x1024 images with random labels, resized to 1024x512 as in the paper configs
(``data.eval_size: [512, 1024]``, batch 1), predictions at the labels' full 2048x1024
resolution. The network is randomly initialised: its speed does not depend on its weights.
The first image of each setting (graph tracing) is not timed.

Example::

    python -m bench.eval_speed --images 3
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=3, help="timed images per setting")
    parser.add_argument("--backbone", default="resnet101")
    args = parser.parse_args()

    import numpy as np
    import tensorflow as tf

    from fada_tf.config.schema import ModelConfig
    from fada_tf.data.classes import class_table
    from fada_tf.data.pipeline import evaluation_dataset
    from fada_tf.evaluation.evaluate import evaluate
    from fada_tf.evaluation.scales import MST_SCALES
    from fada_tf.models import build_segmentor

    table = class_table("cityscapes19")
    model = ModelConfig(backbone=args.backbone, freeze_bn=True)
    segmentor = build_segmentor(model, table.num_classes)
    rng = np.random.default_rng(0)
    count = args.images + 1
    images = rng.integers(0, 256, size=(count, 1024, 2048, 3), dtype=np.uint8)
    labels = rng.integers(0, 19, size=(count, 1024, 2048), dtype=np.uint8)
    data = evaluation_dataset(tf.data.Dataset.from_tensor_slices((images, labels)), [512, 1024],
                              model.normalization, 1)

    results = {"backbone": args.backbone, "eval_size": [512, 1024], "label_size": [1024, 2048],
               "images": args.images, "cpu_count": os.cpu_count(),
               "load_average_at_start": os.getloadavg()[0]}
    for name, scales, flip in (("single_scale", (1.0,), False), ("mst", MST_SCALES, True)):
        times = []

        def clock(_predictions, times=times):
            times.append(time.perf_counter())

        start = time.perf_counter()
        evaluate(segmentor, data, table, verbose=0, scales=scales, flip=flip, on_predictions=clock)
        per_image = (times[-1] - times[0]) / args.images
        results[name] = {"s_per_image": round(per_image, 2), "first_image_s": round(times[0] - start, 2)}
        print(f"{name}: {per_image:.2f} s per image (first, with tracing: {times[0] - start:.1f} s)",
              flush=True)
    results["peak_rss_gb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)
    results["load_average_at_end"] = os.getloadavg()[0]
    print(json.dumps(results))


if __name__ == "__main__":
    main()
