"""Input pipeline throughput at the paper's sizes, per core, next to what a training step consumes.

Writes GTA5-like (1914x1052 RGB PNG + palette label PNG) and Cityscapes-like (2048x1024 +
label-ID PNG) raw releases of procedural street scenes with camera noise (PNG sizes close to
the real releases'), prepares them with ``fada-tf data prepare`` (timed), then measures
images/s of the training streams the paper configs build (``configs/gta5_to_cityscapes_r101.yaml``):

* source: read + decode + resize to 1280x720 + crop + flip + colour jitter + normalise, with
  class-balanced sampling;
* target: the same at 1024x512, without jitter;

each with tf.data limited to 1 and to 2 threads (``threading.private_threadpool_size``, one
intra-op thread per op). With ``--step`` it also times FADA training steps of DeepLabV2
ResNet-101 at batch 1 + 1 at those sizes on random tensors (a step consumes one image of
each domain), so the two can be compared.

Example::

    python -m bench.pipeline_throughput --work /tmp/fada-bench --images 24 --step
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
from PIL import Image

from bench.common import REPO
from fada_tf.config import load_config
from fada_tf.data.classes import CITYSCAPES_EVALUATED_IDS, class_table
from fada_tf.data.prepare import PrepareOptions, prepare
from fada_tf.data.synthetic import GAME, REAL, render_scene

SIZES = {"gta5": (1052, 1914), "cityscapes": (1024, 2048)}
# synthetic train ID -> Cityscapes label ID (what the raw releases store)
_LABEL_IDS = np.array([{n: i for i, n in CITYSCAPES_EVALUATED_IDS.items()}[name]
                       for name in class_table("synthetic").names], np.uint8)


def scene(style, seed: int, size: tuple[int, int]):
    """A street scene drawn at 1/4 size, upscaled, with per-pixel camera noise (photo-like PNG sizes)."""
    h, w = size
    image, label = render_scene(style, seed, h // 4, w // 4)
    image = np.asarray(Image.fromarray(image).resize((w, h), Image.BILINEAR), np.float32)
    noise = np.random.default_rng(seed).normal(0, 3.0, image.shape)
    label = np.asarray(Image.fromarray(_LABEL_IDS[label]).resize((w, h), Image.NEAREST))
    return np.clip(image + noise, 0, 255).astype(np.uint8), label


def write_raw(root: Path, count: int) -> None:
    for i in range(count):
        image, label = scene(GAME, i, SIZES["gta5"])
        (root / "gta5" / "images").mkdir(parents=True, exist_ok=True)
        (root / "gta5" / "labels").mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(root / "gta5" / "images" / f"{i:05d}.png")
        palette = Image.fromarray(label, mode="P")
        palette.putpalette([c for i in range(256) for c in ((i * 37) % 256, (i * 91) % 256, (i * 53) % 256)])
        palette.save(root / "gta5" / "labels" / f"{i:05d}.png")
        image, label = scene(REAL, 10_000 + i, SIZES["cityscapes"])
        stem = f"bench_000000_{i:06d}"
        for folder, name, array in (("leftImg8bit", f"{stem}_leftImg8bit.png", image),
                                    ("gtFine", f"{stem}_gtFine_labelIds.png", label)):
            path = root / "cityscapes" / folder / "train" / "bench" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(array).save(path)


def prepared(work: Path, count: int) -> dict:
    """Raw releases and their prepared datasets (made once); prepare's images per wall and CPU second."""
    timings = {}
    if not (work / "raw").is_dir():
        write_raw(work / "raw", count)
    for dataset in ("gta5", "cityscapes"):
        out = work / "prepared" / dataset
        if not out.is_dir():
            wall, cpu = time.perf_counter(), time.process_time()
            prepare(PrepareOptions(dataset, str(work / "raw" / dataset), ("train",)), str(out))
            timings[dataset] = {"images_per_s": count / (time.perf_counter() - wall),
                                "images_per_cpu_s": count / (time.process_time() - cpu)}
    return timings


def stream_rate(cfg, domain: str, threads: int, images: int) -> dict:
    """Images per wall second and per CPU second (this process, all threads) of ``domain``'s
    training batches (batch 1) with tf.data on ``threads`` threads.

    Images per CPU second is the per-core rate, and it is what stays meaningful when other
    work shares the machine; wall-clock rates drop with every competing process.
    """
    import tensorflow as tf

    from fada_tf.data.datasets import stage_batches

    options = tf.data.Options()
    options.threading.private_threadpool_size = threads
    options.threading.max_intra_op_parallelism = 1
    cfg = dataclasses.replace(cfg, adapt=dataclasses.replace(cfg.adapt, batch_size=1))
    data = stage_batches(cfg, "adapt", domain, seed=0).with_options(options)
    iterator = iter(data)
    for _ in range(3):
        next(iterator)
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(images):
        next(iterator)
    return {"images_per_s": images / (time.perf_counter() - wall),
            "images_per_cpu_s": images / (time.process_time() - cpu)}


def step_seconds(cfg, steps: int) -> dict:
    """Wall and CPU seconds of FADA train steps (ResNet-101, batch 1 + 1, the configured crop
    sizes) as training runs them (``build_adaptation_model``, ``compiled_step``), after one
    step that includes tracing."""
    import dataclasses

    import tensorflow as tf

    from fada_tf.models import build_segmentor
    from fada_tf.training.distribution import make_strategy
    from fada_tf.training.stages.adapt import build_adaptation_model
    from fada_tf.training.steps import compiled_step

    k = class_table(cfg.data.classes).num_classes
    cfg = dataclasses.replace(cfg, adapt=dataclasses.replace(cfg.adapt, batch_size=1))
    strategy = make_strategy("one")
    with strategy.scope():
        model = build_adaptation_model(cfg, build_segmentor(cfg.model, k, seed=0), k)
        step = compiled_step(strategy, model)
    (sh, sw), (th, tw) = (s.crop or s.resize for s in (cfg.adapt.source_images, cfg.adapt.target_images))
    rng = np.random.default_rng(0)
    batch = ((rng.normal(size=(1, sh, sw, 3)).astype(np.float32), rng.integers(0, k, (1, sh, sw)).astype(np.int32)),
             rng.normal(size=(1, th, tw, 3)).astype(np.float32))
    iterator = iter(tf.data.Dataset.from_tensors(batch).repeat())
    ends = []
    for _ in range(steps + 1):
        float(step(iterator)["seg_loss"])   # waits for the step to finish
        ends.append((time.perf_counter(), time.process_time()))
    wall, cpu = np.diff(np.array(ends), axis=0).T
    return {"wall_s": wall.tolist(), "cpu_s": cpu.tolist()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/fada-bench"))
    parser.add_argument("--images", type=int, default=24, help="images per generated dataset")
    parser.add_argument("--measure", type=int, default=20, help="images timed per stream")
    parser.add_argument("--step", action="store_true", help="also time ResNet-101 FADA steps")
    parser.add_argument("--steps", type=int, default=2)
    args = parser.parse_args()

    result = {"prepare": prepared(args.work, args.images)}
    cfg = load_config(REPO / "configs" / "gta5_to_cityscapes_r101.yaml",
                      [f"data.source.root={args.work / 'prepared' / 'gta5'}",
                       f"data.target.root={args.work / 'prepared' / 'cityscapes'}", "model.pretrained=none"])
    result["pipeline"] = {
        f"{domain} {threads} thread(s)": stream_rate(cfg, domain, threads, args.measure)
        for domain in ("source", "target") for threads in (1, 2)}
    if args.step:
        result["fada_step"] = step_seconds(cfg, args.steps)
    sizes = {d: np.mean([p.stat().st_size for p in (args.work / "raw" / d).rglob("*.png")
                         if "label" not in p.name and "labels" not in p.parts]) / 1e6 for d in SIZES}
    result["mean_raw_image_mb"] = sizes
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
