"""FADA's networks: the DeepLabV2 segmentor (backbone + ASPP) and the fine-grained discriminator."""

from fada_tf.models.discriminator import build_discriminator, discriminator_logits
from fada_tf.models.segmentor import build_segmentor, feature_channels

__all__ = ["build_discriminator", "build_segmentor", "discriminator_logits", "feature_channels"]
