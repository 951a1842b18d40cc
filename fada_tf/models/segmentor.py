"""The DeepLabV2 segmentor: backbone (feature extractor F) + ASPP classifier (C).

``build_segmentor`` returns a functional model from an image normalised as
``model.normalization`` says (``fada_tf.data.pipeline.normalize``) to
``{"features": F(x), "logits": C(F(x))}``, both at output stride 8 and *not* upsampled (the
trainer upsamples the logits with ``resize_bilinear``, the discriminator consumes the
features). The backbone is the nested model ``"backbone"``, the head the layer ``"aspp"``:
every head variable's ``path`` starts with ``aspp/`` and no backbone variable's path contains
``aspp``, which is how the optimiser gives the head its 10x learning rate.
"""

import keras

from fada_tf.config.schema import ModelConfig
from fada_tf.models.aspp import AsppClassifierV2, resolve_aspp_method
from fada_tf.models.pretrained import load_pretrained
from fada_tf.models.resnet import build_dilated_resnet
from fada_tf.models.tiny import build_tiny_backbone
from fada_tf.models.vgg import build_dilated_vgg16

# The head's seeds start this far from the backbone's (ResNet-101 draws 104).
HEAD_SEED_OFFSET = 1000


def feature_channels(backbone: str, tiny_width: int) -> int:
    """Channels of the backbone's stride-8 feature map."""
    if backbone in ("resnet50", "resnet101"):
        return 2048
    if backbone == "vgg16":
        return 1024
    if backbone == "tiny":
        return 8 * tiny_width
    raise ValueError(f"unknown backbone {backbone!r}")


def build_backbone(config: ModelConfig, seed: int = 0) -> keras.Model:
    """Build the feature extractor named ``"backbone"`` chosen by a ModelConfig.

    Layers are initialised with seeds ``seed``, ``seed + 1``, ...; then ``config.pretrained``
    other than ``"none"`` replaces the weights it has (the original's ImageNet ``.pth``, a
    fada-tf ``.weights.h5``, keras.applications ``imagenet`` / ``*_notop.h5`` with
    ``config.normalization`` folded in: see fada_tf.models.pretrained).
    """
    if config.backbone in ("resnet50", "resnet101"):
        backbone = build_dilated_resnet(int(config.backbone[len("resnet"):]),
                                        freeze_bn=config.freeze_bn, seed=seed)
    elif config.backbone == "vgg16":
        backbone = build_dilated_vgg16(seed=seed)
    elif config.backbone == "tiny":
        backbone = build_tiny_backbone(config.tiny_width, freeze_bn=config.freeze_bn,
                                       seed=seed)
    else:
        raise ValueError(f"unknown backbone {config.backbone!r}")
    load_pretrained(backbone, config)
    return backbone


def build_segmentor(config: ModelConfig, num_classes: int, seed: int = 0) -> keras.Model:
    """Build the segmentor for a ModelConfig: image -> {"features", "logits"} at stride 8.

    ``seed`` seeds every layer's initialiser (a run passes its ``run.seed``); the backbone then
    reads ``config.pretrained`` (``build_backbone``), the ASPP head keeps its initialisation and
    computes its convolutions as ``config.aspp_method`` resolves on this machine.
    """
    backbone = build_backbone(config, seed)
    image = keras.Input((None, None, 3), name="image")
    features = backbone(image)
    logits = AsppClassifierV2(num_classes, config.aspp_dilations,
                              seed=seed + HEAD_SEED_OFFSET,
                              method=resolve_aspp_method(config.aspp_method), name="aspp")(features)
    return keras.Model(image, {"features": features, "logits": logits}, name="segmentor")
