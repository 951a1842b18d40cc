"""Statistics that describe a domain shift without any adaptation run: how far the class
proportions move, how far the colours move, and whether the classes' features move together
(a shared shift) or apart (a class-level one)."""

from __future__ import annotations

import numpy as np


def js_divergence(p, q) -> float:
    """Jensen–Shannon divergence (bits, in [0, 1]) between two discrete distributions."""
    p, q = np.asarray(p, np.float64) / np.sum(p), np.asarray(q, np.float64) / np.sum(q)
    m = (p + q) / 2

    def kl(a, b):
        kept = a > 0
        return float(np.sum(a[kept] * np.log2(a[kept] / b[kept])))

    return (kl(p, m) + kl(q, m)) / 2


def class_shares(labels, num_classes: int) -> np.ndarray:
    """Share of each class among the labelled pixels (values ≥ num_classes are ignored)."""
    counts = np.bincount(np.asarray(labels).ravel(), minlength=256)[:num_classes]
    return counts / counts.sum()


def colour_histogram(images, bins: int = 8) -> np.ndarray:
    """Joint RGB histogram of uint8 images with ``bins`` bins per channel, as shares."""
    quantised = np.asarray(images).reshape(-1, 3).astype(np.int64) * bins // 256
    codes = (quantised[:, 0] * bins + quantised[:, 1]) * bins + quantised[:, 2]
    return np.bincount(codes, minlength=bins ** 3) / len(codes)


def total_variation(p, q) -> float:
    """Total variation distance ½·Σ|p − q| between two distributions (in [0, 1])."""
    return 0.5 * float(np.abs(np.asarray(p) - np.asarray(q)).sum())


def feature_shift_cosines(source_centres, target_centres) -> np.ndarray:
    """(K, K) cosines between the classes' mean feature shifts Δ_c = μ_c(target) − μ_c(source);
    NaN where a class is absent from either domain."""
    shifts = np.asarray(target_centres, np.float64) - np.asarray(source_centres, np.float64)
    norms = np.linalg.norm(shifts, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        unit = shifts / norms[:, None]
    return unit @ unit.T


def mean_pairwise(matrix) -> float:
    """Mean of the off-diagonal entries of a square matrix that are finite."""
    matrix = np.asarray(matrix, np.float64)
    off = matrix[~np.eye(len(matrix), dtype=bool)]
    return float(np.mean(off[np.isfinite(off)]))


def diagonal_dominant_rows(confusion) -> np.ndarray:
    """Per row of a (K, K) confusion matrix (row: label), whether the class is predicted as
    itself more often than as any other class (a tie is not); False for a class without
    pixels."""
    confusion = np.asarray(confusion)
    others = np.where(np.eye(len(confusion), dtype=bool), -1, confusion).max(1)
    return np.diag(confusion) > others
