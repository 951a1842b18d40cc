"""One FADA adaptation step: fada-tf (Keras 3 / TensorFlow) against the original's PyTorch step.

The PyTorch side is the original FADA's training step as its ``train_adv.py`` runs it, eager:
``adaptation_iteration`` of ``tests.support.torch_reference`` (the reference
tests/adaptation/test_fada_model_vs_torch.py checks fada-tf's step against), on its
plain-torch networks (DeepLabV2-ResNet-101 with frozen BatchNorm, ASPP-V2 classifier, pixel discriminator). SGD
(momentum 0.9, weight decay 5e-4, poly learning rate) on the feature extractor and, at 10x the
learning rate, on the classifier; Adam (betas 0.9, 0.99) on the discriminator; per step

1. ``L_seg`` = CE(source logits / T, labels), backward;
2. soft labels ``min(softmax(logits / T), 0.9)`` of both domains, detached;
3. ``0.001 · L_adv`` = soft CE(D(target features), [a_t; 0]), backward; SGD steps;
4. D's gradients zeroed, then ``0.5 · L_D,src`` and ``0.5 · L_D,tgt`` on detached features,
   backward each; Adam step.

The fada-tf side is ``fada-tf bench train-step --json`` (``FADAModel.train_step`` in the
training loop's compiled step). Each measurement is a fresh process (peak RSS is per
process), and the two frameworks alternate (keras, torch, keras, torch, ...) so that load
from other processes on a shared machine hits both alike. Both get the same thread count:
``torch.set_num_threads(N)`` / ``TF_NUM_INTRAOP_THREADS=N`` (and ``OMP_NUM_THREADS=N``).

    python -m bench.train_step_vs_torch --sizes 128x256 256x512 --repeats 3

prints a Markdown table (median over the repeats of each process's median step) and, with
``--output``, writes every measurement as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time

from bench.common import fada_tf_command, run_json, run_module, thread_env

NUM_CLASSES = 19
MAX_ITERS = 62500   # the horizon of the original's poly learning rates


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["128x256", "256x512"])
    parser.add_argument("--backbone", default="resnet101", choices=["resnet101", "resnet50"])
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3, help="Processes per framework and size.")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--output", default=None, help="Write all measurements as JSON here.")
    parser.add_argument("--torch-worker", nargs=1, metavar="SIZE", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# --- the PyTorch step (worker process) ---------------------------------------------------------

def torch_step_benchmark(backbone: str, size: tuple[int, int], batch: int, threads: int,
                         steps: int, warmup: int) -> dict:
    """Median seconds, images/s and peak memory of the original's adaptation step in PyTorch."""
    import torch

    from tests.support.torch_reference import (RESNET_BLOCKS, AsppClassifierV2, DilatedResNet,
                                               FeatureExtractor, PixelDiscriminator,
                                               adaptation_iteration, original_optimizers)

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    feature_extractor = FeatureExtractor(DilatedResNet(RESNET_BLOCKS[backbone])).train()
    classifier = AsppClassifierV2(2048, NUM_CLASSES).train()
    discriminator = PixelDiscriminator(2048, NUM_CLASSES).train()
    optimizers = original_optimizers(feature_extractor, classifier, discriminator)

    generator = torch.Generator().manual_seed(0)
    height, width = size
    src_input = torch.randn((batch, 3, height, width), generator=generator)
    src_label = torch.randint(0, NUM_CLASSES, (batch, height, width), generator=generator)
    tgt_input = torch.randn((batch, 3, height, width), generator=generator)

    def step(iteration):
        adaptation_iteration(feature_extractor, classifier, discriminator, optimizers, src_input,
                             src_label, tgt_input, iteration, MAX_ITERS)

    times = []
    for index in range(warmup + steps):
        start = time.perf_counter()
        step(index)
        elapsed = time.perf_counter() - start
        if index >= warmup:
            times.append(elapsed)
        print(f"torch step {index + 1}/{warmup + steps}: {elapsed:.3f} s", file=sys.stderr, flush=True)
    median = statistics.median(times)
    return {"images_per_s": 2 * batch / median, "step_s_median": median,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "backbone": backbone, "size": [height, width], "batch": batch, "threads": threads,
            "torch": torch.__version__}


# --- the driver --------------------------------------------------------------------------------

def main(argv=None):
    args = parse_args(argv)
    if args.torch_worker:
        height, width = (int(v) for v in args.torch_worker[0].split("x"))
        result = torch_step_benchmark(args.backbone, (height, width), args.batch, args.threads,
                                      args.steps, args.warmup)
        print(json.dumps(result))
        return
    env = thread_env(args.threads)
    common = ["--steps", str(args.steps), "--warmup", str(args.warmup)]
    runs = {size: {"keras": [], "torch": []} for size in args.sizes}
    for repeat in range(args.repeats):
        for size in args.sizes:
            keras = run_json([*fada_tf_command(), "bench", "train-step", "--backbone", args.backbone,
                              "--size", size, "--batch", str(args.batch), "--precision", "float32",
                              "--no-jit", "--strategy", "one", *common, "--json"], env)
            torch = run_module("bench.train_step_vs_torch", "--torch-worker", size, "--backbone",
                               args.backbone, "--batch", args.batch, "--threads", args.threads,
                               *common, env=env)
            runs[size]["keras"].append(keras)
            runs[size]["torch"].append(torch)
            print(f"[{repeat + 1}/{args.repeats}] {size}: keras {keras['images_per_s']:.3f} img/s "
                  f"{keras['peak_rss_mb']:.0f} MB | torch {torch['images_per_s']:.3f} img/s "
                  f"{torch['peak_rss_mb']:.0f} MB", file=sys.stderr, flush=True)
    print(table(runs, args))
    if args.output:
        with open(args.output, "w") as handle:
            json.dump({"args": vars(args), "load_average": os.getloadavg(), "runs": runs}, handle,
                      indent=1)


def table(runs: dict, args) -> str:
    lines = [f"FADA adaptation step, {args.backbone}, batch {args.batch} source + {args.batch} target, "
             f"float32, {args.threads} threads each, median of {args.repeats} processes "
             f"(each: median of {args.steps} steps after {args.warmup} warm-up), "
             f"{time.strftime('%Y-%m-%d')}, load average {os.getloadavg()[0]:.2f}",
             "",
             "| size | fada-tf img/s | torch img/s | speed keras/torch | fada-tf peak RSS MB "
             "| torch peak RSS MB | RSS keras/torch |",
             "|---|---|---|---|---|---|---|"]
    for size, result in runs.items():
        speed = {k: statistics.median(r["images_per_s"] for r in v) for k, v in result.items()}
        rss = {k: statistics.median(r["peak_rss_mb"] for r in v) for k, v in result.items()}
        lines.append(f"| {size} | {speed['keras']:.3f} | {speed['torch']:.3f} | "
                     f"{speed['keras'] / speed['torch']:.2f}x | {rss['keras']:.0f} | {rss['torch']:.0f} | "
                     f"{rss['keras'] / rss['torch']:.2f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
