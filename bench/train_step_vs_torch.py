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
training loop's compiled step). Precisions: float32 (the original's), and bfloat16 — fada-tf's
``--precision mixed_bfloat16`` against the PyTorch iteration run under
``torch.autocast("cpu", dtype=torch.bfloat16)`` (forward and backward inside the context;
the backward ops run in the dtypes autocast gave their forward ops either way). With
``--recompute`` fada-tf also runs with ``--recompute`` in every precision. Each measurement is a
fresh process (peak RSS is per process), and the variants alternate (fada-tf, torch,
fada-tf, torch, ...) so that load from other processes on a shared machine hits all alike.
All get the same thread count: ``torch.set_num_threads(N)`` / ``TF_NUM_INTRAOP_THREADS=N``
(and ``OMP_NUM_THREADS=N``).

    python -m bench.train_step_vs_torch --sizes 128x256 256x512 --repeats 3
    python -m bench.train_step_vs_torch --sizes 256x512 --precisions float32 bfloat16 --recompute

prints Markdown tables (median over the repeats of each process's median step; fada-tf's
distance to the machine's matrix-product rate) and, with ``--output``, writes every
measurement as JSON.
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
KERAS_PRECISION = {"float32": "float32", "bfloat16": "mixed_bfloat16"}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["128x256", "256x512"])
    parser.add_argument("--backbone", default="resnet101", choices=["resnet101", "resnet50"])
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--precisions", nargs="+", default=["float32"], choices=list(KERAS_PRECISION))
    parser.add_argument("--recompute", action="store_true",
                        help="Also run fada-tf with --recompute in every precision.")
    parser.add_argument("--repeats", type=int, default=3,
                        help="Processes per variant and size.")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--output", default=None, help="Write all measurements as JSON here.")
    parser.add_argument("--torch-worker", nargs=2, metavar=("SIZE", "PRECISION"),
                        help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# --- the PyTorch step (worker process) ---------------------------------------------------------

def torch_step_benchmark(backbone: str, size: tuple[int, int], precision: str, batch: int,
                         threads: int, steps: int, warmup: int) -> dict:
    """Median seconds, images/s and peak memory of the original's adaptation step in PyTorch,
    in float32 or under bfloat16 autocast."""
    import contextlib

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
        with (torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bfloat16"
              else contextlib.nullcontext()):
            adaptation_iteration(feature_extractor, classifier, discriminator, optimizers,
                                 src_input, src_label, tgt_input, iteration, MAX_ITERS)

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
            "backbone": backbone, "size": [height, width], "precision": precision, "batch": batch,
            "threads": threads, "torch": torch.__version__}


# --- the driver --------------------------------------------------------------------------------

def main(argv=None):
    args = parse_args(argv)
    if args.torch_worker:
        size, precision = args.torch_worker
        height, width = (int(v) for v in size.split("x"))
        result = torch_step_benchmark(args.backbone, (height, width), precision, args.batch,
                                      args.threads, args.steps, args.warmup)
        print(json.dumps(result))
        return
    env = thread_env(args.threads)
    common = ["--steps", str(args.steps), "--warmup", str(args.warmup)]
    variants = [(framework, precision, recompute) for precision in args.precisions
                for framework, recompute in [("keras", False), ("torch", False)]
                + [("keras", True)] * args.recompute]
    runs = {size: {variant_name(*v): [] for v in variants} for size in args.sizes}
    for repeat in range(args.repeats):
        for size in args.sizes:
            for framework, precision, recompute in variants:
                if framework == "keras":
                    result = run_json([*fada_tf_command(), "bench", "train-step", "--backbone",
                                       args.backbone, "--size", size, "--batch", str(args.batch),
                                       "--precision", KERAS_PRECISION[precision], "--no-jit",
                                       "--recompute" if recompute else "--no-recompute",
                                       "--strategy", "one", *common, "--json"], env)
                else:
                    result = run_module("bench.train_step_vs_torch", "--torch-worker", size,
                                        precision, "--backbone", args.backbone, "--batch",
                                        args.batch, "--threads", args.threads, *common, env=env)
                name = variant_name(framework, precision, recompute)
                runs[size][name].append(result)
                print(f"[{repeat + 1}/{args.repeats}] {size} {name}: "
                      f"{result['images_per_s']:.3f} img/s {result['peak_rss_mb']:.0f} MB",
                      file=sys.stderr, flush=True)
    print(tables(runs, args))
    if args.output:
        with open(args.output, "w") as handle:
            json.dump({"args": vars(args), "load_average": os.getloadavg(), "runs": runs}, handle,
                      indent=1)


def variant_name(framework: str, precision: str, recompute: bool) -> str:
    return f"{'fada-tf' if framework == 'keras' else 'torch'} {precision}" + \
        (" --recompute" if recompute else "")


def tables(runs: dict, args) -> str:
    """The speed, memory and (fada-tf's) distance to the matrix-product rate of every variant,
    then each fada-tf variant against PyTorch in its precision and in float32."""
    lines = [f"FADA adaptation step, {args.backbone}, batch {args.batch} source + {args.batch} target, "
             f"{args.threads} threads each, median of {args.repeats} processes "
             f"(each: median of {args.steps} steps after {args.warmup} warm-up), "
             f"{time.strftime('%Y-%m-%d')}, load average {os.getloadavg()[0]:.2f}",
             "",
             "| size | variant | img/s | peak RSS MB | step TFLOP | achieved TFLOP/s "
             "| matrix product TFLOP/s | fraction |",
             "|---|---|---|---|---|---|---|---|"]
    medians = {}
    for size, variants in runs.items():
        for name, results in variants.items():
            median = {key: statistics.median(r[key] for r in results)
                      for key in results[0] if isinstance(results[0][key], float)}
            medians[size, name] = median
            arithmetic = (f"{median['step_tflop']:.3f} | {median['tflop_per_s']:.3f} | "
                          f"{median['matmul_tflop_per_s']:.3f} | "
                          f"{100 * median['fraction_of_matmul_rate']:.0f} %"
                          if "step_tflop" in median else "— | — | — | —")
            lines.append(f"| {size} | {name} | {median['images_per_s']:.3f} | "
                         f"{median['peak_rss_mb']:.0f} | {arithmetic} |")
    lines += ["", "| size | fada-tf | against | speed | peak RSS |", "|---|---|---|---|---|"]
    for size, variants in runs.items():
        for name in variants:
            if not name.startswith("fada-tf"):
                continue
            precision = name.split()[1]
            for other in dict.fromkeys([f"torch {precision}", "torch float32"]):
                if other in variants:
                    mine, theirs = medians[size, name], medians[size, other]
                    lines.append(f"| {size} | {name} | {other} | "
                                 f"{mine['images_per_s'] / theirs['images_per_s']:.2f}x | "
                                 f"{mine['peak_rss_mb'] / theirs['peak_rss_mb']:.2f}x |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
