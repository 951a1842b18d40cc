"""One FADA adaptation step: fada-tf (Keras 3 / TensorFlow) against the original's PyTorch step.

The PyTorch side is the original FADA's training step as its ``train_adv.py`` runs it, eager,
on the plain-torch networks of ``fada_tf.torch_reference`` (DeepLabV2-ResNet-101 with
frozen BatchNorm, ASPP-V2 classifier, pixel discriminator): SGD (momentum 0.9, weight decay
5e-4, poly learning rate) on the feature extractor and, at 10x the learning rate, on the
classifier; Adam (betas 0.9, 0.99) on the discriminator; per step

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

    python bench/train_step_vs_torch.py --sizes 128x256 256x512 --repeats 3

prints a Markdown table (median over the repeats of each process's median step) and, with
``--output``, writes every measurement as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time

NUM_CLASSES = 19
TEMPERATURE, CLIP, LAMBDA_ADV = 1.8, 0.9, 0.001


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

def soft_label_cross_entropy(pred, soft_label):
    """The original's loss: mean over pixels of -sum_c soft_label_c * log_softmax(pred)_c."""
    import torch
    import torch.nn.functional as F

    return torch.mean(torch.sum(-soft_label.float() * F.log_softmax(pred, dim=1), dim=1))


def torch_step_benchmark(backbone: str, size: tuple[int, int], batch: int, threads: int,
                         steps: int, warmup: int) -> dict:
    import torch
    import torch.nn.functional as F

    from fada_tf.torch_reference import (AsppClassifierV2, DilatedResNet, FeatureExtractor,
                                        PixelDiscriminator)

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    blocks = {"resnet101": (3, 4, 23, 3), "resnet50": (3, 4, 6, 3)}[backbone]
    feature_extractor = FeatureExtractor(DilatedResNet(blocks)).train()
    classifier = AsppClassifierV2(2048, NUM_CLASSES).train()
    model_d = PixelDiscriminator(2048, NUM_CLASSES).train()
    base_lr, base_lr_d, max_iter = 2.5e-4, 1e-4, 62500
    optimizer_fea = torch.optim.SGD(feature_extractor.parameters(), lr=base_lr, momentum=0.9,
                                    weight_decay=5e-4)
    optimizer_cls = torch.optim.SGD(classifier.parameters(), lr=base_lr * 10, momentum=0.9,
                                    weight_decay=5e-4)
    optimizer_d = torch.optim.Adam(model_d.parameters(), lr=base_lr_d, betas=(0.9, 0.99))
    criterion = torch.nn.CrossEntropyLoss(ignore_index=255)

    generator = torch.Generator().manual_seed(0)
    height, width = size
    src_input = torch.randn((batch, 3, height, width), generator=generator)
    src_label = torch.randint(0, NUM_CLASSES, (batch, height, width), generator=generator)
    tgt_input = torch.randn((batch, 3, height, width), generator=generator)

    def step(iteration):
        lr = base_lr * (1 - iteration / max_iter) ** 0.9
        for group in optimizer_fea.param_groups:
            group["lr"] = lr
        for group in optimizer_cls.param_groups:
            group["lr"] = lr * 10
        for group in optimizer_d.param_groups:
            group["lr"] = base_lr_d * (1 - iteration / max_iter) ** 0.9
        optimizer_fea.zero_grad()
        optimizer_cls.zero_grad()
        optimizer_d.zero_grad()
        src_size, tgt_size = src_input.shape[-2:], tgt_input.shape[-2:]

        src_fea = feature_extractor(src_input)
        src_pred = classifier(src_fea, src_size).div(TEMPERATURE)
        loss_seg = criterion(src_pred, src_label)
        loss_seg.backward()
        src_soft_label = F.softmax(src_pred, dim=1).detach()
        src_soft_label[src_soft_label > CLIP] = CLIP

        tgt_fea = feature_extractor(tgt_input)
        tgt_pred = classifier(tgt_fea, tgt_size).div(TEMPERATURE)
        tgt_soft_label = F.softmax(tgt_pred, dim=1).detach()
        tgt_soft_label[tgt_soft_label > CLIP] = CLIP
        tgt_d_pred = model_d(tgt_fea, tgt_size)
        loss_adv_tgt = LAMBDA_ADV * soft_label_cross_entropy(
            tgt_d_pred, torch.cat((tgt_soft_label, torch.zeros_like(tgt_soft_label)), dim=1))
        loss_adv_tgt.backward()
        optimizer_fea.step()
        optimizer_cls.step()

        optimizer_d.zero_grad()
        src_d_pred = model_d(src_fea.detach(), src_size)
        loss_d_src = 0.5 * soft_label_cross_entropy(
            src_d_pred, torch.cat((src_soft_label, torch.zeros_like(src_soft_label)), dim=1))
        loss_d_src.backward()
        tgt_d_pred = model_d(tgt_fea.detach(), tgt_size)
        loss_d_tgt = 0.5 * soft_label_cross_entropy(
            tgt_d_pred, torch.cat((torch.zeros_like(tgt_soft_label), tgt_soft_label), dim=1))
        loss_d_tgt.backward()
        optimizer_d.step()
        return loss_seg.item()

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

def thread_env(threads: int) -> dict:
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS=str(threads), TF_NUM_INTRAOP_THREADS=str(threads),
               TF_CPP_MIN_LOG_LEVEL="2")
    return env


def run_json(command: list[str], env: dict) -> dict:
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


def fada_tf_command() -> list[str]:
    executable = shutil.which("fada-tf", path=os.path.dirname(sys.executable)) or shutil.which("fada-tf")
    return [executable] if executable else [sys.executable, "-m", "fada_tf.cli"]


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
            torch = run_json([sys.executable, __file__, "--torch-worker", size, "--backbone",
                              args.backbone, "--batch", str(args.batch), "--threads",
                              str(args.threads), *common], env)
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
