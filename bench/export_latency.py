"""Latency of the exported segmentor: Keras vs SavedModel vs ONNX Runtime, the in-graph resize, and file sizes.

For each backbone (random initialisation: speed does not depend on the weights) and each
working size (the size the network runs at, ``eval_size`` in a run) the script exports the
deployable graph (uint8 input, probs output, dynamic size) four ways — resizing any image to
the working size inside the graph (fada-tf's default, ``--resize graph``) as ONNX with native
dilated convolutions, as ONNX with tf2onnx's own form of dilated convolutions (``SpaceToDepth``
+ ``Conv``) and as a SavedModel; and, for comparison, the graph of fada-tf 0.2
(``--resize caller``: no resize, the network at the input's size) as ONNX — then starts one
worker process per thread count (TensorFlow's thread pools are fixed when it starts). A worker
times one image at a time at image sizes equal to, larger and smaller than the working size,
cycling through the runtimes repetition by repetition so that load from other processes hits
all of them alike, and reports the best time per runtime (the least disturbed one on a shared
machine; the medians are in the JSON).

``caller graph`` is the old graph fed the image already resized to the working size; it answers
at the working size, where the new graph also upsamples the probabilities to the image's size
(work the old deployment left to the caller). ``in-graph resize alone`` is the resize the new
graph starts with, converted and run alone in ONNX Runtime; ``PIL resize`` is the time Pillow
takes for the same resize on the host (what the old deployment paid instead).

    python -m bench.export_latency --output runs/export_latency.json

prints a Markdown table (best milliseconds per image, and each runtime's time relative to
Keras in the same worker) and writes the raw numbers as JSON, with the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from bench.common import run_module

# backbone: (config, {working size: {image size: repetitions}}).
BACKBONES = {
    "tiny": ("configs/synthetic.yaml", {"64x128": {"64x128": 50, "97x161": 50, "250x500": 30},
                                        "512x1024": {"512x1024": 10, "1024x2048": 10, "333x777": 10}}),
    "resnet101": ("configs/gta5_to_cityscapes_r101.yaml", {"64x128": {"64x128": 10, "97x161": 10},
                                                           "512x1024": {"512x1024": 3, "1024x2048": 3}}),
}
RUNTIMES = ("keras", "savedmodel", "onnx", "onnx_space_to_depth", "onnx_caller", "onnx_resize_only", "pil_resize")
HEADINGS = ("Keras (tf.function)", "SavedModel", "ONNX Runtime", "ONNX Runtime, SpaceToDepth dilations",
            "caller graph (ONNX, at the working size)", "in-graph resize alone (ONNX)", "PIL resize (host)")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbones", nargs="+", default=list(BACKBONES), choices=list(BACKBONES))
    parser.add_argument("--working-sizes", nargs="+", default=None, metavar="HxW",
                        help="Only these working sizes (default: all of each backbone's).")
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--output", default="runs/export_latency.json")
    parser.add_argument("--worker", nargs=4, metavar=("BACKBONE", "WORKING", "FOLDER", "THREADS"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--export", nargs=4, metavar=("BACKBONE", "WORKING", "FOLDER", "NAME"),
                        help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _size(text: str) -> tuple[int, int]:
    height, width = map(int, text.split("x"))
    return height, width


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


EXPORTS = {"onnx": ("native", True), "onnx_space_to_depth": ("space-to-depth", True),
           "onnx_caller": ("native", False), "savedmodel": (None, True)}


def export_all(backbone: str, working: str, folder: Path) -> dict:
    """Write weights, three ONNX variants and a SavedModel of one randomly initialised model,
    each export in its own process (verifying ResNet-101 at 512x1024 takes ~13 GB, which
    TensorFlow keeps until the process ends)."""
    _random_segmentor(backbone).save_weights(folder / "model.weights.h5")
    sizes, seconds = {}, {}
    for name in EXPORTS:
        sizes[name], seconds[name] = run_module("bench.export_latency", "--export", backbone, working,
                                                folder, name, keep_stderr=False)
    sizes["keras_weights_h5"] = (folder / "model.weights.h5").stat().st_size
    _export_resize_only(_size(working), folder / "onnx_resize_only.onnx")
    return {"bytes": sizes, "export_seconds": seconds}


def export_one(backbone: str, working: str, folder: Path, name: str) -> tuple[int, float]:
    """(bytes, seconds) of one export of the weights in ``folder``, verified at an odd size the
    graph enlarges to the working size."""
    from fada_tf.config.schema import NormalizationConfig
    from fada_tf.export.onnx import export_onnx
    from fada_tf.export.savedmodel import export_savedmodel
    from fada_tf.export.verify import verification_sizes

    segmentor = _random_segmentor(backbone)
    segmentor.load_weights(folder / "model.weights.h5")
    dilations, resizes = EXPORTS[name]
    resize_to = _size(working) if resizes else None
    small = verification_sizes(_size(working), None, True)[1]
    start = time.perf_counter()
    if name == "savedmodel":
        report = export_savedmodel(segmentor, NormalizationConfig(), folder / name, sizes=[small], resize_to=resize_to)
    else:
        report = export_onnx(segmentor, NormalizationConfig(), folder / f"{name}.onnx", sizes=[small],
                             dilations=dilations, resize_to=resize_to)
    return report["bytes"], time.perf_counter() - start


def _export_resize_only(resize_to, path: Path) -> None:
    """The graph's first step alone (PIL bicubic of a uint8 batch to the working size) as ONNX."""
    import tensorflow as tf
    import tf2onnx

    from fada_tf.data.image_ops import resize_images

    function = tf.function(lambda image: {"resized": resize_images(image, resize_to)},
                           input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8, name="image")])
    model, _ = tf2onnx.convert.from_function(function, input_signature=function.input_signature, opset=17)
    path.write_bytes(model.SerializeToString())


def worker(backbone: str, working: str, folder: Path, threads: int) -> dict:
    """Best and median milliseconds per image of every runtime at every image size, ``threads`` threads each."""
    import numpy as np
    import tensorflow as tf
    from PIL import Image

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    from fada_tf.config.schema import NormalizationConfig
    from fada_tf.export.graph import deployable_function
    from fada_tf.export.runtime import create_session

    resize_to = _size(working)
    segmentor = _random_segmentor(backbone)
    segmentor.load_weights(folder / "model.weights.h5")
    keras_fn = deployable_function(segmentor, NormalizationConfig(), "probs", "uint8", resize_to=resize_to)
    serve = tf.saved_model.load(str(folder / "savedmodel")).signatures["serving_default"]
    sessions = {name: create_session(str(folder / f"{name}.onnx"), device="cpu", threads=threads)
                for name in ("onnx", "onnx_space_to_depth", "onnx_caller", "onnx_resize_only")}

    def pil(x):
        return np.asarray(Image.fromarray(x[0]).resize(resize_to[::-1], Image.BICUBIC))[None]

    run = {"keras": lambda x, r: keras_fn(tf.constant(x))["probs"].numpy(),
           "savedmodel": lambda x, r: serve(image=tf.constant(x))["probs"].numpy(),
           "onnx": lambda x, r: sessions["onnx"].run(None, {"image": x})[0],
           "onnx_space_to_depth": lambda x, r: sessions["onnx_space_to_depth"].run(None, {"image": x})[0],
           "onnx_caller": lambda x, r: sessions["onnx_caller"].run(None, {"image": r})[0],
           "onnx_resize_only": lambda x, r: sessions["onnx_resize_only"].run(None, {"image": x})[0],
           "pil_resize": lambda x, r: pil(x)}
    rng = np.random.default_rng(0)
    result = {}
    for size, reps in BACKBONES[backbone][1][working].items():
        image = rng.integers(0, 256, (1, *_size(size), 3), dtype=np.uint8)
        resized = pil(image)
        outputs = {name: fn(image, resized) for name, fn in run.items()}  # warm-up (and tracing)
        assert (outputs["onnx_resize_only"] == resized).all(), "the in-graph resize is not Pillow's"
        times = {name: [] for name in run}
        for _ in range(reps):
            for name, fn in run.items():
                start = time.perf_counter()
                fn(image, resized)
                times[name].append(time.perf_counter() - start)
        result[size] = {"reps": reps,
                        "ms": {name: 1000 * float(np.min(t)) for name, t in times.items()},
                        "ms_median": {name: 1000 * float(np.median(t)) for name, t in times.items()},
                        "max_prob_diff_vs_keras": {name: float(np.abs(outputs[name] - outputs["keras"]).max())
                                                   for name in ("savedmodel", "onnx", "onnx_space_to_depth")}}
    return result


def table(results: dict) -> str:
    header = ("| backbone | working size | image (H×W) | threads | " + " | ".join(HEADINGS) + " |\n|"
              + "---|" * (4 + len(HEADINGS)))
    rows = []
    for key, by_threads in results["latency"].items():
        backbone, working = key.split("@")
        for threads, by_size in by_threads.items():
            for size, r in by_size.items():
                keras = r["ms"]["keras"]
                cells = [f"{r['ms'][n]:,.1f} ms ({r['ms'][n] / keras:.2f}×)" for n in RUNTIMES]
                rows.append(f"| {backbone} | {working} | {size} | {threads} | " + " | ".join(cells) + " |")
    sizes = ["| backbone | working size | ONNX | ONNX (SpaceToDepth) | ONNX (caller graph) | SavedModel | "
             "Keras weights (.h5) |", "|---|---|---|---|---|---|---|"]
    for key, info in results["files"].items():
        b = info["bytes"]
        sizes.append("| {} | {} | ".format(*key.split("@"))
                     + " | ".join(f"{b[n] / 1e6:.1f} MB" for n in ("onnx", "onnx_space_to_depth", "onnx_caller",
                                                                   "savedmodel", "keras_weights_h5")) + " |")
    return header + "\n" + "\n".join(rows) + "\n\n" + "\n".join(sizes)


def main(argv=None):
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if args.worker:
        backbone, working, folder, threads = args.worker
        print(json.dumps(worker(backbone, working, Path(folder), int(threads))))
        return
    if args.export:
        backbone, working, folder, name = args.export
        print(json.dumps(export_one(backbone, working, Path(folder), name)))
        return
    results = {"files": {}, "latency": {}, "cpu_count": os.cpu_count(), "load_avg_start": os.getloadavg()}
    with tempfile.TemporaryDirectory() as tmp:
        for backbone in args.backbones:
            for working in BACKBONES[backbone][1]:
                if args.working_sizes and working not in args.working_sizes:
                    continue
                key = f"{backbone}@{working}"
                folder = Path(tmp) / key
                folder.mkdir()
                print(f"[{key}] exporting", file=sys.stderr)
                results["files"][key] = export_all(backbone, working, folder)
                results["latency"][key] = {}
                for threads in args.threads:
                    print(f"[{key}] timing with {threads} thread(s)", file=sys.stderr)
                    results["latency"][key][threads] = run_module(
                        "bench.export_latency", "--worker", backbone, working, folder, threads,
                        keep_stderr=False)
    results["load_avg_end"] = os.getloadavg()
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))


if __name__ == "__main__":
    main()
