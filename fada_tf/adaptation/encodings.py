"""Domain encodings: the class knowledge ``a`` that supervises the fine-grained discriminator.

Paper section 3.2: the source pixel's target vector is ``[a; 0]`` and the target pixel's is
``[0; a]`` over the discriminator's 2K channels. Section 3.3 gives two ways to get ``a`` from
the classifier's logits ``z``; the binary domain label of the global "feat. only" baseline is
the special case K = 1, ``a = 1``.
"""

from __future__ import annotations

from keras import ops

ENCODINGS = ("binary", "hard", "soft")


def domain_encoding(logits, kind: str, temperature: float = 1.8, clip: float = 0.9,
                    threshold: float = 0.9):
    """Class knowledge ``a`` per pixel from segmentor logits ``z`` (..., K); no gradient flows.

    * ``soft`` (eq. 8): ``softmax(z / T)``, then "confidence clipping": entries above ``clip``
      are set to ``clip`` (not renormalised), as in the reference and Table 6.
    * ``hard`` (eq. 7): one-hot of ``argmax z``; pixels whose confidence ``max softmax(z / T)``
      is below ``threshold`` get an all-zero vector, so they add nothing to eq. 5 and 6
      (the paper ignores low-confidence pixels).
    * ``binary``: a single channel of ones: ``[1; 0]`` / ``[0; 1]`` domain labels (eq. 1, 4).
    """
    logits = ops.stop_gradient(logits)
    if kind == "binary":
        return ops.ones_like(logits[..., :1])
    probs = ops.softmax(logits / temperature, axis=-1)
    if kind == "soft":
        return ops.minimum(probs, clip)
    if kind == "hard":
        num_classes = ops.shape(logits)[-1]
        one_hot = ops.one_hot(ops.argmax(logits, axis=-1), num_classes, dtype=probs.dtype)
        confident = ops.cast(ops.max(probs, axis=-1, keepdims=True) >= threshold, probs.dtype)
        return one_hot * confident
    raise ValueError(f"unknown domain encoding {kind!r}; choose one of {', '.join(ENCODINGS)}")


def encoding_channels(kind: str, num_classes: int) -> int:
    """K of the discriminator's 2K outputs: 1 for the binary baseline, else the class count."""
    return 1 if kind == "binary" else num_classes


def source_target_code(encoding, domain: str):
    """``[a; 0]`` for ``domain="source"`` (d = 0) or ``[0; a]`` for ``"target"`` (d = 1)."""
    zeros = ops.zeros_like(encoding)
    parts = [encoding, zeros] if domain == "source" else [zeros, encoding]
    return ops.concatenate(parts, axis=-1)

