"""Numpy computations the tests compare fada-tf's results with."""

import numpy as np


def softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def log_softmax(z):
    """In float64, whatever ``z``'s type."""
    return np.log(softmax(z.astype(np.float64)))


def relative_error(actual, expected):
    """The largest absolute difference relative to the largest magnitude of ``expected``."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    return float(np.max(np.abs(actual - expected)) / np.max(np.abs(expected)))
