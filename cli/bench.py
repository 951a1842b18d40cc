"""``fada-tf bench``: speed and memory of the training step on this machine."""

from __future__ import annotations

import re
from typing import get_args

import click

from fada_tf.cli.common import emit, json_option, work_on_stderr
from fada_tf.config.schema import AsppMethod, Backbone, Precision, Strategy

NUM_CLASSES = 19


def _size(ctx, param, value: str) -> tuple[int, int]:
    """``HxW`` with both sides positive multiples of 8 (the segmentor's output stride)."""
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", value)
    if not match:
        raise click.BadParameter(f"{value!r} is not HEIGHTxWIDTH, e.g. 256x512", ctx, param)
    height, width = int(match[1]), int(match[2])
    if height <= 0 or width <= 0 or height % 8 or width % 8:
        raise click.BadParameter(f"{value!r}: height and width must be positive multiples of 8",
                                 ctx, param)
    return height, width


@click.group()
def bench():
    """Benchmarks of fada-tf on this machine.

    \b
    Example:
        fada-tf bench train-step --backbone resnet101 --size 256x512 --batch 1 --json
    """


@bench.command("train-step")
@click.option("--backbone", type=click.Choice(get_args(Backbone)), default="resnet101", show_default=True,
              help="Segmentor backbone (random weights; BatchNorm frozen as in the paper, "
                   "trainable for tiny as in the synthetic setting).")
@click.option("--size", default="256x512", show_default=True, callback=_size, metavar="HxW",
              help="Image size of the source and the target images (multiples of 8).")
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True,
              help="Source images per step (and as many target images), over all replicas.")
@click.option("--precision", type=click.Choice(get_args(Precision)), default="float32", show_default=True)
@click.option("--jit/--no-jit", default=False, show_default=True, help="XLA-compile the replica step.")
@click.option("--recompute/--no-recompute", default=False, show_default=True,
              help="Recompute the residual blocks in the backward pass (run.recompute).")
@click.option("--aspp-method", type=click.Choice(get_args(AsppMethod)), default="auto",
              show_default=True, help="How the ASPP head computes its convolutions "
                                      "(model.aspp_method).")
@click.option("--strategy", type=click.Choice(get_args(Strategy)), default="auto", show_default=True,
              help="tf.distribute strategy, as run.strategy of training.")
@click.option("--steps", type=click.IntRange(min=1), default=10, show_default=True,
              help="Timed steps (the median is reported).")
@click.option("--warmup", type=click.IntRange(min=0), default=2, show_default=True,
              help="Untimed steps first (tracing, allocation).")
@json_option
def train_step(backbone, size, batch, precision, jit, recompute, aspp_method, strategy, steps,
               warmup, as_json):
    """Time one FADA adaptation step: segmentor SGD step + discriminator Adam step.

    Runs FADAModel.train_step_losses the way training does (strategy scope, compiled per-replica
    step, per-replica slices of the global batch) on random images: BATCH source + BATCH
    target images of HxW, 19 classes, soft encoding. Reports the median step time, images per second
    (source + target images per step / median step time), the process's peak resident
    memory, and the distance to the machine's limit: the step's FLOPs (its convolutions and
    matrix products, counted from the traced step), the FLOP/s achieved, and their fraction
    of the rate of a 2048x2048 matrix product in the step's compute precision, timed in the
    same process just before the timed steps. Progress goes to stderr.

    \b
    Examples:
        fada-tf bench train-step --backbone resnet101 --size 256x512
        fada-tf bench train-step --backbone tiny --size 64x128 --batch 4 --steps 20 --json
        fada-tf bench train-step --precision mixed_bfloat16 --jit --json
        fada-tf bench train-step --size 512x1024 --recompute
    """
    with work_on_stderr():
        result = measure_train_step(backbone, size, batch, precision, jit, strategy, steps, warmup,
                                    recompute, aspp_method)
    emit(result, as_json, _report(result))


def measure_train_step(backbone: str, size: tuple[int, int], batch: int, precision: str,
                       jit: bool, strategy_name: str, steps: int, warmup: int,
                       recompute: bool, aspp_method: str = "auto") -> dict:
    import resource
    import statistics
    import time

    from fada_tf.training.distribution import make_strategy
    from fada_tf.training.flops import graph_flops, matmul_rate

    strategy = make_strategy(strategy_name)  # before any other TensorFlow work

    import keras
    import numpy as np
    import tensorflow as tf

    from fada_tf.config import Config
    from fada_tf.models import build_segmentor
    from fada_tf.training.precision import set_precision
    from fada_tf.training.stages.adapt import build_adaptation_model
    from fada_tf.training.steps import compiled_step

    config = Config()
    config.model.backbone, config.model.freeze_bn = backbone, backbone != "tiny"
    config.model.aspp_method = aspp_method
    # The original's λ_adv, as in the PyTorch step bench/train_step_vs_torch.py compares with.
    config.adapt.encoding, config.adapt.lambda_adv = "soft", 0.001
    config.adapt.steps = warmup + steps
    config.run.precision, config.run.recompute = precision, recompute
    set_precision(precision)
    with strategy.scope():
        segmentor = build_segmentor(config.model, NUM_CLASSES, seed=0)
        model = build_adaptation_model(config, segmentor, NUM_CLASSES)
        step = compiled_step(strategy, model, jit)

    rng = np.random.default_rng(0)
    height, width = size
    source = rng.standard_normal((batch, height, width, 3), dtype=np.float32)
    labels = rng.integers(0, NUM_CLASSES, (batch, height, width), dtype=np.int32)
    target = rng.standard_normal((batch, height, width, 3), dtype=np.float32)
    dataset = tf.data.Dataset.from_tensors(((source, labels), target)).repeat()
    iterator = iter(dataset)

    def timed_step() -> float:
        start = time.perf_counter()
        float(step(iterator)["seg_loss"])  # wait for the step to finish
        return time.perf_counter() - start

    for index in range(warmup):
        print(f"warm-up {index + 1}/{warmup}: {timed_step():.3f} s", flush=True)
    compute_dtype = keras.mixed_precision.dtype_policy().compute_dtype
    rate = matmul_rate(compute_dtype)
    print(f"{compute_dtype} 2048x2048 matrix product: {rate / 1e12:.3f} TFLOP/s", flush=True)
    times = []
    for index in range(steps):
        times.append(timed_step())
        print(f"step {index + 1}/{steps}: {times[-1]:.3f} s", flush=True)

    median = statistics.median(times)
    flops = graph_flops(step.get_concrete_function(iterator))
    return {"images_per_s": 2 * batch / median, "step_s_median": median,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "step_tflop": flops / 1e12, "tflop_per_s": flops / median / 1e12,
            "matmul_tflop_per_s": rate / 1e12, "fraction_of_matmul_rate": flops / median / rate,
            "backbone": backbone, "size": [height, width], "batch": batch,
            "precision": precision, "jit": jit, "recompute": recompute,
            "aspp_method": segmentor.get_layer("aspp").method, "strategy": strategy_name,
            "replicas": strategy.num_replicas_in_sync}


def _report(result: dict) -> str:
    height, width = result["size"]
    return (f"FADA train step, {result['backbone']} {height}x{width}, {result['batch']} source + "
            f"{result['batch']} target images, {result['precision']}, "
            f"jit {'on' if result['jit'] else 'off'}, "
            f"recompute {'on' if result['recompute'] else 'off'}, ASPP {result['aspp_method']}, "
            f"strategy {result['strategy']} "
            f"({result['replicas']} replica{'s' if result['replicas'] != 1 else ''}):\n"
            f"  median step    {result['step_s_median']:.3f} s\n"
            f"  throughput     {result['images_per_s']:.2f} images/s\n"
            f"  peak RSS       {result['peak_rss_mb']:.0f} MB\n"
            f"  step FLOPs     {result['step_tflop']:.3f} TFLOP (convolutions and matrix products)\n"
            f"  achieved       {result['tflop_per_s']:.3f} TFLOP/s, "
            f"{100 * result['fraction_of_matmul_rate']:.0f} % of this machine's "
            f"{result['matmul_tflop_per_s']:.3f} TFLOP/s matrix product")
