"""Domain encodings, FADA losses, and the Keras models whose ``train_step`` adapts a segmentor."""

from fada_tf.adaptation.encodings import domain_encoding, encoding_channels
from fada_tf.adaptation.fada_model import FADAModel
from fada_tf.adaptation.losses import (adversarial_loss, discriminator_loss, segmentation_loss,
                                       soft_cross_entropy)
from fada_tf.adaptation.source_only import SourceOnlyModel

__all__ = ["FADAModel", "SourceOnlyModel", "adversarial_loss", "discriminator_loss",
           "domain_encoding", "encoding_channels", "segmentation_loss", "soft_cross_entropy"]
