"""Latency of the exported segmentor: Keras vs SavedModel vs ONNX Runtime, and file sizes.

For each backbone (random initialisation: speed does not depend on the weights) the script
exports the deployable graph (uint8 input, probs output, dynamic size) three ways — ONNX with
native dilated convolutions (fada-tf's default), ONNX as tf2onnx writes dilated convolutions
for a dynamic size (``SpaceToDepth`` + ``Conv``), and a SavedModel — then starts one worker
process per thread count (TensorFlow's thread pools are fixed when it starts). A worker times
one image at a time, cycling through the runtimes repetition by repetition so that load from
other processes hits all of them alike, and reports the best time per runtime (the least
disturbed one on a shared machine; the medians are in the JSON).

    python bench/export_latency.py --output runs/export_latency.json

prints a Markdown table (best milliseconds per image, and each runtime's time relative to
Keras in the same worker) and writes the raw numbers as JSON, with the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BACKBONES = {"tiny": ("configs/synthetic.yaml", {"64x128": 50, "512x1024": 10}),
             "resnet101": ("configs/gta5_to_cityscapes_r101.yaml", {"64x128": 10, "512x1024": 3})}
RUNTIMES = ("keras", "savedmodel", "onnx", "onnx_space_to_depth")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbones", nargs="+", default=list(BACKBONES), choices=list(BACKBONES))
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--output", default="runs/export_latency.json")
    parser.add_argument("--worker", nargs=3, metavar=("BACKBONE", "FOLDER", "THREADS"),
                        help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _random_segmentor(backbone: str):
    """The config's segmentor, seeded random weights (``pretrained`` would need the network)."""
    from fada_tf.config import load_config
    from fada_tf.data.classes import class_table
    from fada_tf.models import build_segmentor

    config = load_config(BACKBONES[backbone][0], ["model.pretrained=none"])
    segmentor = build_segmentor(config.model, class_table(config.data.classes).num_classes, seed=0)
    if config.model.freeze_bn:
        # Random convolutions under frozen unit-statistics BatchNorm give ResNet-101 logits of
        # about 1e5, where float32 rounding alone moves a saturated softmax by 4e-3 (the
        # export's parity check would rightly refuse). A smaller head brings them to about 1.
        for variable in segmentor.get_layer("aspp").trainable_variables:
            variable.assign(variable * 1e-5)
    return segmentor


def export_all(backbone: str, folder: Path) -> dict:
    """Write weights, two ONNX variants and a SavedModel of one randomly initialised model."""
    from fada_tf.config.schema import NormalizationConfig
    from fada_tf.export.onnx import export_onnx
    from fada_tf.export.savedmodel import export_savedmodel

    segmentor = _random_segmentor(backbone)
    segmentor.save_weights(folder / "model.weights.h5")
    sizes, seconds = {}, {}
    for name, dilations in (("onnx", "native"), ("onnx_space_to_depth", "space-to-depth")):
        start = time.perf_counter()
        report = export_onnx(segmentor, NormalizationConfig(), folder / f"{name}.onnx",
                             sizes=[(64, 128)], dilations=dilations)
        seconds[name] = time.perf_counter() - start
        sizes[name] = report["bytes"]
    start = time.perf_counter()
    sizes["savedmodel"] = export_savedmodel(segmentor, NormalizationConfig(), folder / "savedmodel",
                                            sizes=[(64, 128)])["bytes"]
    seconds["savedmodel"] = time.perf_counter() - start
    sizes["keras_weights_h5"] = (folder / "model.weights.h5").stat().st_size
    return {"bytes": sizes, "export_seconds": seconds}


def worker(backbone: str, folder: Path, threads: int) -> dict:
    """Best and median milliseconds per image of every runtime at every size, ``threads`` threads each."""
    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    from fada_tf.config.schema import NormalizationConfig
    from fada_tf.export.graph import deployable_function
    from fada_tf.export.runtime import create_session

    segmentor = _random_segmentor(backbone)
    segmentor.load_weights(folder / "model.weights.h5")
    keras_fn = deployable_function(segmentor, NormalizationConfig(), "probs", "uint8")
    serve = tf.saved_model.load(str(folder / "savedmodel")).signatures["serving_default"]
    sessions = {name: create_session(str(folder / f"{name}.onnx"), device="cpu", threads=threads)
                for name in ("onnx", "onnx_space_to_depth")}
    run = {"keras": lambda x: keras_fn(tf.constant(x))["probs"].numpy(),
           "savedmodel": lambda x: serve(image=tf.constant(x))["probs"].numpy(),
           **{name: (lambda x, s=s: s.run(None, {"image": x})[0]) for name, s in sessions.items()}}
    rng = np.random.default_rng(0)
    result = {}
    for size, reps in BACKBONES[backbone][1].items():
        height, width = map(int, size.split("x"))
        image = rng.integers(0, 256, (1, height, width, 3), dtype=np.uint8)
        outputs = {name: fn(image) for name, fn in run.items()}  # warm-up (and tracing)
        times = {name: [] for name in run}
        for _ in range(reps):
            for name, fn in run.items():
                start = time.perf_counter()
                fn(image)
                times[name].append(time.perf_counter() - start)
        result[size] = {"reps": reps,
                        "ms": {name: 1000 * float(np.min(t)) for name, t in times.items()},
                        "ms_median": {name: 1000 * float(np.median(t)) for name, t in times.items()},
                        "max_prob_diff_vs_keras": {name: float(np.abs(o - outputs["keras"]).max())
                                                   for name, o in outputs.items()}}
    return result


def table(results: dict) -> str:
    header = ("| backbone | image (H×W) | threads | Keras (tf.function) | SavedModel | ONNX Runtime | "
              "ONNX Runtime, SpaceToDepth dilations |\n|---|---|---|---|---|---|---|")
    rows = []
    for backbone, by_threads in results["latency"].items():
        for threads, by_size in by_threads.items():
            for size, r in by_size.items():
                keras = r["ms"]["keras"]
                cells = [f"{r['ms'][n]:,.1f} ms ({r['ms'][n] / keras:.2f}×)" for n in RUNTIMES]
                rows.append(f"| {backbone} | {size} | {threads} | " + " | ".join(cells) + " |")
    sizes = ["| backbone | ONNX | ONNX (SpaceToDepth) | SavedModel | Keras weights (.h5) |",
             "|---|---|---|---|---|"]
    for backbone, info in results["files"].items():
        b = info["bytes"]
        sizes.append(f"| {backbone} | {b['onnx'] / 1e6:.1f} MB | {b['onnx_space_to_depth'] / 1e6:.1f} MB | "
                     f"{b['savedmodel'] / 1e6:.1f} MB | {b['keras_weights_h5'] / 1e6:.1f} MB |")
    return header + "\n" + "\n".join(rows) + "\n\n" + "\n".join(sizes)


def main(argv=None):
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if args.worker:
        backbone, folder, threads = args.worker
        print(json.dumps(worker(backbone, Path(folder), int(threads))))
        return
    results = {"files": {}, "latency": {}, "cpu_count": os.cpu_count(), "load_avg_start": os.getloadavg()}
    with tempfile.TemporaryDirectory() as tmp:
        for backbone in args.backbones:
            folder = Path(tmp) / backbone
            folder.mkdir()
            print(f"[{backbone}] exporting", file=sys.stderr)
            results["files"][backbone] = export_all(backbone, folder)
            results["latency"][backbone] = {}
            for threads in args.threads:
                print(f"[{backbone}] timing with {threads} thread(s)", file=sys.stderr)
                out = subprocess.run([sys.executable, __file__, "--worker", backbone, str(folder), str(threads)],
                                     check=True, stdout=subprocess.PIPE, text=True)
                results["latency"][backbone][threads] = json.loads(out.stdout.strip().splitlines()[-1])
    results["load_avg_end"] = os.getloadavg()
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))


if __name__ == "__main__":
    main()
