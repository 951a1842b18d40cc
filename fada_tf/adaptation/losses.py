"""The losses of FADA: segmentation (eq. 3), discriminator (eq. 5) and adversarial (eq. 6).

All take NHWC logits. Sums over pixels in the paper are means here, as in the reference
implementation (``nn.CrossEntropyLoss`` and its ``soft_label_cross_entropy``).
"""

from __future__ import annotations

from keras import ops

from fada_tf.adaptation.encodings import source_target_code
from fada_tf.data.classes import IGNORE_LABEL


def segmentation_loss(logits, labels, ignore_label: int = IGNORE_LABEL):
    """Eq. 3: pixel-wise cross-entropy on the labelled pixels, averaged over them.

    ``logits`` (N, H, W, K), ``labels`` (N, H, W) integer train IDs; ``ignore_label`` pixels
    do not count (as ``nn.CrossEntropyLoss(ignore_index=255)``).
    """
    total, count = segmentation_loss_terms(logits, labels, ignore_label)
    return total / ops.maximum(count, 1.0)


def segmentation_loss_terms(logits, labels, ignore_label: int = IGNORE_LABEL):
    """``(summed cross-entropy, number of labelled pixels)``: eq. 3 before the division."""
    labels = ops.cast(labels, "int32")
    valid = ops.not_equal(labels, ignore_label)
    safe = ops.where(valid, labels, 0)
    log_probs = ops.log_softmax(ops.cast(logits, "float32"), axis=-1)
    picked = ops.take_along_axis(log_probs, safe[..., None], axis=-1)[..., 0]
    weights = ops.cast(valid, "float32")
    return -ops.sum(picked * weights), ops.sum(weights)


def soft_cross_entropy(logits, targets):
    """Mean over pixels of ``-sum_k targets_k * log softmax(logits)_k`` (channels last).

    The discriminator's softmax runs over all 2K channels, i.e. over the joint (domain, class)
    distribution ``P(d, c | f)`` of eq. 5 and 6.
    """
    log_probs = ops.log_softmax(ops.cast(logits, "float32"), axis=-1)
    return ops.mean(-ops.sum(ops.cast(targets, "float32") * log_probs, axis=-1))


def discriminator_loss(source_logits, target_logits, source_encoding, target_encoding):
    """Eq. 5 with the reference's weighting: 0.5 · source term + 0.5 · target term.

    ``*_logits`` are the discriminator's 2K-channel outputs on (detached) features of each
    domain; source pixels are pushed to ``[a; 0]`` (d = 0), target pixels to ``[0; a]``.
    """
    source_term = soft_cross_entropy(source_logits, source_target_code(source_encoding, "source"))
    target_term = soft_cross_entropy(target_logits, source_target_code(target_encoding, "target"))
    return 0.5 * source_term + 0.5 * target_term


def adversarial_loss(target_logits, target_encoding):
    """Eq. 6: target features should look like *source* features of the same class: ``[a; 0]``."""
    return soft_cross_entropy(target_logits, source_target_code(target_encoding, "source"))
