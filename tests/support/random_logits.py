"""The random logits of the domain-encoding and loss tests: one seeded stream shared by both
test files (run together, in pytest's order, they draw what one file of both drew)."""

import numpy as np

rng = np.random.default_rng(0)
K = 5


def logits(*shape, scale=3.0):
    return (rng.normal(size=shape) * scale).astype(np.float32)
