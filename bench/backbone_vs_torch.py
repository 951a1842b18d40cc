"""The dilated ResNet-101 feature extractor alone, forward + backward: fada-tf against PyTorch.

A FADA step runs the feature extractor forward and backward on the source and on the target
image; this isolates that part (the rest: ASPP, discriminator, losses, optimiser updates) to
show how much of a step neither framework can make faster.

    python -m bench.backbone_vs_torch --size 128x256 --repeats 2

Each measurement is a fresh process, the frameworks alternate, both get the same threads.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from bench.common import run_module, thread_env


def keras_timer(height: int, width: int):
    import numpy as np
    import tensorflow as tf

    from fada_tf.config.schema import ModelConfig
    from fada_tf.models.segmentor import build_backbone

    backbone = build_backbone(ModelConfig(backbone="resnet101", freeze_bn=True), 0)
    image = tf.constant(np.random.default_rng(0).standard_normal((1, height, width, 3), dtype=np.float32))
    variables = backbone.trainable_variables

    @tf.function
    def forward_backward():
        with tf.GradientTape() as tape:
            features = backbone(image, training=True)
            loss = tf.reduce_sum(features * features)
        return tape.gradient(loss, variables)

    return lambda: [g.numpy() for g in forward_backward()[:1]]


def torch_timer(height: int, width: int, threads: int):
    import torch

    from tests.support.torch_reference import RESNET_BLOCKS, DilatedResNet

    torch.set_num_threads(threads)
    backbone = DilatedResNet(RESNET_BLOCKS["resnet101"])
    image = torch.randn(1, 3, height, width)

    def forward_backward():
        backbone.zero_grad()
        features = backbone(image)
        (features * features).sum().backward()
    return forward_backward


def worker(framework: str, height: int, width: int, threads: int, steps: int) -> None:
    run = keras_timer(height, width) if framework == "keras" else torch_timer(height, width, threads)
    run()
    run()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    print(json.dumps({"fwd_bwd_ms": 1000 * statistics.median(times)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="128x256")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--worker", choices=["keras", "torch"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    height, width = map(int, args.size.split("x"))
    if args.worker:
        return worker(args.worker, height, width, args.threads, args.steps)
    times = {"keras": [], "torch": []}
    for _ in range(args.repeats):
        for framework in times:
            result = run_module("bench.backbone_vs_torch", "--worker", framework, "--size", args.size,
                                "--threads", args.threads, "--steps", args.steps,
                                env=thread_env(args.threads))
            times[framework].append(result["fwd_bwd_ms"])
    keras_ms, torch_ms = (statistics.median(times[f]) for f in ("keras", "torch"))
    print(f"ResNet-101 feature extractor, 1 image {args.size}, forward + backward, {args.threads} threads")
    print(f"| fada-tf ms | torch ms | keras/torch time |\n|---|---|---|\n"
          f"| {keras_ms:.0f} | {torch_ms:.0f} | {keras_ms / torch_ms:.2f} |")


if __name__ == "__main__":
    main()
