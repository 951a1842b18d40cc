"""ASPP-V2 forward + backward: four dilated 3x3 convolutions to 19 classes against the same
sum computed as tap products (``AsppClassifierV2.tap_products``), on ResNet-101 features.

    python -m bench.aspp_speed --sizes 16x32 32x64 --repeats 5

Sizes are feature-map sizes (stride 8: 16x32 for 128x256 crops, 32x64 for 256x512). Both run
in one process, alternating; the result is the median time and the ratio.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import tensorflow as tf

from fada_tf.models.aspp import AsppClassifierV2


def forward_backward(aspp, compute, features):
    variables = aspp.trainable_variables

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            tape.watch(features)
            loss = tf.reduce_sum(compute(features) ** 2)
        return tape.gradient(loss, [features, *variables])
    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["16x32", "32x64"])
    parser.add_argument("--channels", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print("| feature map | dilated convs ms | tap products ms | speed-up |\n|---|---|---|---|")
    for size in args.sizes:
        height, width = map(int, size.split("x"))
        features = tf.constant(np.random.default_rng(0).standard_normal(
            (1, height, width, args.channels), dtype=np.float32))
        aspp = AsppClassifierV2(19)
        aspp.build(features.shape)
        ways = {"dilated": forward_backward(aspp, aspp.dilated_convs, features),
                "taps": forward_backward(aspp, lambda f: aspp.tap_products(f, height, width), features)}
        times = {name: [] for name in ways}
        for name, step in ways.items():
            step()                                   # trace and warm up
        for _ in range(args.repeats):
            for name, step in ways.items():
                start = time.perf_counter()
                step()
                times[name].append(time.perf_counter() - start)
        dilated, taps = (1000 * statistics.median(times[n]) for n in ("dilated", "taps"))
        print(f"| {size} | {dilated:.1f} | {taps:.1f} | {dilated / taps:.2f}x |")


if __name__ == "__main__":
    main()
