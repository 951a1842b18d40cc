"""The typed configuration schema.

Every YAML file in ``configs/`` is validated against these dataclasses: an unknown key, a wrong
type or a value outside a fixed set of choices is an error naming the dotted key. Defaults are
the synthetic CPU setting; the paper's settings (section 4.3) live in the YAML files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Backbone = Literal["resnet101", "resnet50", "vgg16", "tiny"]
Encoding = Literal["binary", "hard", "soft"]
ProbeEncoding = Literal["", "binary", "hard", "soft"]
Dataset = Literal["synthetic", "gta5", "synthia", "cityscapes", "crosscity"]
ClassTable = Literal["synthetic", "cityscapes19", "synthia16", "crosscity13"]
Stage = Literal["source", "adapt", "distill"]
StudentInit = Literal["model", "teacher"]
Strategy = Literal["auto", "one", "mirrored", "multi-worker"]
Precision = Literal["float32", "mixed_bfloat16", "mixed_float16"]
AsppMethod = Literal["auto", "dilated", "tap_products"]
SyntheticShift = Literal["appearance", "class_colour", "palette_cross", "class_prior"]


@dataclass
class NormalizationConfig:
    """How an RGB image becomes the network's input (the original's ``INPUT.PIXEL_MEAN``,
    ``PIXEL_STD`` and ``TO_BGR255``, core/datasets/transform.py ``Normalize``).

    ``to_bgr255: false``: ``x = (rgb / 255 - mean) / std`` (torchvision's ImageNet models).
    ``to_bgr255: true``: ``x = (bgr - mean) / std`` on 0..255 values, channels in BGR order
    (Caffe-converted VGG-16). ``mean`` and ``std`` are in the channel order the network sees.
    """

    mean: list[float] = field(default_factory=lambda: [0.485, 0.456, 0.406])
    std: list[float] = field(default_factory=lambda: [0.229, 0.224, 0.225])
    to_bgr255: bool = False


@dataclass
class ModelConfig:
    """DeepLabV2 segmentor and fine-grained discriminator (paper section 4.3)."""

    backbone: Backbone = "tiny"
    # Frozen BatchNorm as in the paper's ImageNet-pretrained backbones. A from-scratch tiny
    # network cannot freeze BN (its statistics are not learnt yet), so the synthetic setting
    # keeps it trainable.
    freeze_bn: bool = False
    # Where a fresh backbone's weights come from (fada_tf.models.pretrained): "none"; the
    # original's ImageNet .pth (exact; read through the converter); a fada-tf .weights.h5
    # (e.g. that .pth converted by `fada-tf convert torch FILE --imagenet`); "imagenet" or a
    # keras.applications *_notop.h5 (a substitute, its input convention folded in).
    pretrained: str = "none"
    aspp_dilations: list[int] = field(default_factory=lambda: [6, 12, 18, 24])
    # How the ASPP head computes its four dilated convolutions (same sums): "dilated" (the
    # standard convolutions), "tap_products" (one 1x1 product to every tap, then shifted sums;
    # measured 3-7x faster on CPUs, docs/performance.md) or "auto": tap products when no GPU
    # is visible, dilated convolutions when one is (unmeasured there, so the standard).
    aspp_method: AsppMethod = "auto"
    # Width of the first stage of the tiny backbone (later stages double it).
    tiny_width: int = 16
    # Hidden channels of the discriminator's 3x3 convolutions (the paper: 256, 128).
    discriminator_channels: list[int] = field(default_factory=lambda: [256, 128])
    # Input normalisation the backbone's weights expect; used by training, evaluation,
    # prediction, CCD and the exported graph alike.
    normalization: NormalizationConfig = field(default_factory=NormalizationConfig)


@dataclass
class SyntheticConfig:
    """Sizes and target domain of the built-in procedural domain shift (fada_tf.data.synthetic)."""

    height: int = 64
    width: int = 128
    source_images: int = 1000
    target_train_images: int = 1000
    target_val_images: int = 200
    seed: int = 1234
    # The target domain (fada_tf.data.synthetic_shifts): "appearance" is the game -> real
    # shift; class_colour, palette_cross and class_prior move the game scenes class by class
    # (docs/class_study.md), as far as ``strength`` says (palette_cross, class_prior: 0..1).
    shift: SyntheticShift = "appearance"
    strength: float = 0.5
    # Draw the labelled source split in the target domain's style: a model trained on it
    # sees target labels (the oracle, an upper bound for adaptation).
    oracle: bool = False


@dataclass
class DomainConfig:
    """Where one domain's data lives; how a stage reads it is the stage's ``*_images``."""

    dataset: Dataset = "synthetic"
    # A prepared dataset folder (``fada-tf data prepare``); unused for synthetic data.
    root: str = ""
    train_split: str = "train"
    # Split with labels used for evaluation ("" = none).
    val_split: str = ""


# Draws per sub-epoch of the original's class-balanced list (core/datasets/gta5.py:37).
SUB_EPOCH_DRAWS = 3000


@dataclass
class ImageStream:
    """How a training stage draws and augments one domain's images (the original's
    ``build_transform`` and dataset classes: core/datasets/build.py, transform.py, gta5.py).

    Per image, in the original's order: colour jitter on the full image, then a resize to
    ``resize`` (bicubic; labels nearest) or, when ``scale_range`` is not [1, 1], a random
    rescale of the (resized) image by s to ``(int(h·s), int(w·s))``; then a random crop of
    ``crop`` (padded at the bottom and right with 0 / ignore where smaller; the original pads
    both sides, a case its configs never reach), then a horizontal flip.
    """

    # (height, width) every image is resized to first; [] keeps each image's own size.
    resize: list[int] = field(default_factory=lambda: [64, 128])
    # Random rescale factor range; [1, 1] = none.
    scale_range: list[float] = field(default_factory=lambda: [1.0, 1.0])
    # (height, width) of a random crop; [] = no crop (the images must then share one size).
    crop: list[int] = field(default_factory=lambda: [64, 128])
    # Probability of a horizontal flip.
    flip: float = 0.5
    # torchvision ColorJitter(brightness, contrast, saturation, hue) in a random order;
    # zeros = none.
    color_jitter: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0, 0.0])
    # The original's class-balanced list (labelled source only, fada_tf.data.sampler):
    # sub-epochs of SUB_EPOCH_DRAWS draws of a class weighted 1/ln(1.01 + its share of the
    # class-presence counts of the images drawn so far), then its next image; the list is
    # then shuffled.
    class_balanced: bool = False
    # The original's max_iters for that list (MAX_ITER × BATCH_SIZE): it holds
    # int(max_iters / SUB_EPOCH_DRAWS) + 1 sub-epochs; 0 = schedule horizon × batch size.
    class_balanced_draws: int = 0


@dataclass
class DataConfig:
    classes: ClassTable = "synthetic"
    source: DomainConfig = field(default_factory=DomainConfig)
    target: DomainConfig = field(default_factory=lambda: DomainConfig(val_split="val"))
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)
    # Evaluation (and the teacher's pseudo labels) resize images to this (height, width);
    # labels keep full resolution. distill.eval_size overrides it for a distilled student.
    eval_size: list[int] = field(default_factory=lambda: [64, 128])
    eval_batch_size: int = 8


@dataclass
class SGDConfig:
    """Segmentor optimiser: SGD with torch-style momentum and L2 weight decay, poly decay."""

    # The original's 5e-4 (source, distillation) and 2.5e-4 (adaptation) are for an
    # ImageNet-initialised ResNet-101 (configs/paper_base.yaml); the synthetic default trains
    # the tiny network from scratch and needs a larger step.
    learning_rate: float = 0.01
    momentum: float = 0.9
    # L2 weight decay added to the gradient (torch's rule); the original's code uses 5e-4,
    # the paper's text says 1e-4 (the synthetic default).
    weight_decay: float = 1e-4
    # The ASPP head learns this many times faster than the backbone.
    head_lr_multiplier: float = 10.0
    poly_power: float = 0.9
    # Steps over which the poly schedule decays to 0; 0 means the stage's number of steps.
    # The original decays over MAX_ITER (e.g. 62,500) and stops at STOP_ITER (40,000).
    schedule_horizon: int = 0


@dataclass
class AdamConfig:
    """Discriminator optimiser: torch's Adam (epsilon 1e-8 added to sqrt(v_hat)), poly decay."""

    # The paper's 1e-4 is in configs/paper_base.yaml; 1e-3 suits the synthetic default.
    learning_rate: float = 1e-3
    beta_1: float = 0.9
    beta_2: float = 0.99
    poly_power: float = 0.9
    schedule_horizon: int = 0


@dataclass
class SourceStageConfig:
    """Stage 1: supervised training on the labelled source domain (L_seg, eq. 3)."""

    steps: int = 2000
    batch_size: int = 8
    optimizer: SGDConfig = field(default_factory=SGDConfig)
    source_images: ImageStream = field(default_factory=ImageStream)
    # Start from this segmentor weights file (backbone and head) instead of model.pretrained.
    init_checkpoint: str = ""


@dataclass
class AdaptStageConfig:
    """Stage 2: fine-grained adversarial adaptation (eq. 2, 5, 6)."""

    steps: int = 2000
    # Images per domain in a step (the paper: 4 source + 4 target).
    batch_size: int = 8
    optimizer: SGDConfig = field(default_factory=SGDConfig)
    discriminator_optimizer: AdamConfig = field(default_factory=AdamConfig)
    source_images: ImageStream = field(default_factory=ImageStream)
    target_images: ImageStream = field(default_factory=ImageStream)
    # The paper's 0.001 is in configs/paper_base.yaml; 0.03 suits the synthetic default.
    lambda_adv: float = 0.03
    encoding: Encoding = "soft"
    # Temperature T of eq. 8, also applied to the logits of L_seg as in the reference.
    temperature: float = 1.8
    # Soft labels above this value are set to it ("confidence clipping", Table 6).
    clip: float = 0.9
    # Hard labels keep only pixels whose confidence reaches this threshold (Table 5).
    hard_threshold: float = 0.9
    # Initialise the segmentor from this weights file instead of the source stage of the run.
    init_checkpoint: str = ""
    # A diagnostic (docs/class_study.md, one replica only): also train a second discriminator
    # with this encoding on the same features, never updating the segmentor with it, and log
    # adv_cosine, the cosine between the segmentor's L_adv gradients under the two ("" = off).
    probe_encoding: ProbeEncoding = ""


@dataclass
class DistillStageConfig:
    """Optional stage 3: self-distillation (paper section 4.6, Table 4 "SD").

    The teacher (the model of the previous stage, or ``teacher_checkpoint``) labels the target
    training split with its hard predictions; a student is trained on them with cross-entropy.
    """

    steps: int = 2000
    batch_size: int = 8
    optimizer: SGDConfig = field(default_factory=SGDConfig)
    # The target training images with their pseudo labels.
    target_images: ImageStream = field(default_factory=ImageStream)
    # A fresh student's BatchNorm: frozen, or trainable with torch's running-statistics rule
    # (synchronised across replicas). The teacher keeps model.freeze_bn.
    freeze_bn: bool = False
    # Evaluation size of the student (height, width); [] = data.eval_size.
    eval_size: list[int] = field(default_factory=list)
    # Pseudo labels whose teacher confidence (max softmax probability) is below this are
    # ignored (255); 0 keeps every pixel.
    confidence_threshold: float = 0.0
    # Multi-scale + flip pseudo labels (see fada_tf.evaluation.evaluate); [1.0] = single scale.
    scales: list[float] = field(default_factory=lambda: [1.0])
    flip: bool = False
    # The student starts as a fresh network initialised per model.pretrained ("model": ImageNet
    # weights in the paper configs, as the reference does) or as a copy of the teacher
    # ("teacher"). For the synthetic default a fresh tiny network is a random one, which
    # discards what the source labels taught; a copy of the teacher scored 0.4 mIoU higher
    # on 3 of 3 seeds (docs/evaluation.md).
    student_init: StudentInit = "teacher"
    # The teacher's weights when the run has no earlier stage (`fada-tf distill --teacher`
    # fills it in); it must have this config's model architecture.
    teacher_checkpoint: str = ""


@dataclass
class RunConfig:
    seed: int = 0
    stages: list[Stage] = field(default_factory=lambda: ["source", "adapt"])
    # Write a checkpoint every this many steps (and always at the end of a stage).
    checkpoint_every: int = 500
    # How often (steps) progress, TensorBoard scalars and the loss averages are reported.
    log_every: int = 100
    # Training-state checkpoints (for --resume) kept per run; older ones are deleted.
    keep_checkpoints: int = 3
    # tf.distribute strategy: auto, one, mirrored (local GPUs) or multi-worker (TF_CONFIG).
    strategy: Strategy = "auto"
    # Keras dtype policy of the models: float32, mixed_bfloat16 or mixed_float16 (loss-scaled).
    precision: Precision = "float32"
    # XLA-compile the training step (tf.function(jit_compile=True)).
    jit: bool = False
    # Recompute the backbone's residual blocks (ResNet, tiny) in the backward pass instead of
    # keeping their activations: same gradients, less memory, about one more forward pass.
    recompute: bool = False


@dataclass
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    source: SourceStageConfig = field(default_factory=SourceStageConfig)
    adapt: AdaptStageConfig = field(default_factory=AdaptStageConfig)
    distill: DistillStageConfig = field(default_factory=DistillStageConfig)
    run: RunConfig = field(default_factory=RunConfig)
