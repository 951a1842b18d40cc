"""Tests of fada_tf.models: backbones, ASPP head, discriminator, BatchNorm layers, pretrained weights."""
