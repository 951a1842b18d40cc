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
Dataset = Literal["synthetic", "gta5", "synthia", "cityscapes", "crosscity"]
ClassTable = Literal["synthetic", "cityscapes19", "synthia16", "crosscity13"]
Stage = Literal["source", "adapt", "distill"]
StudentInit = Literal["model", "teacher"]
Strategy = Literal["auto", "one", "mirrored", "multi-worker"]
Precision = Literal["float32", "mixed_bfloat16", "mixed_float16"]


@dataclass
class ModelConfig:
    """DeepLabV2 segmentor and fine-grained discriminator (paper section 4.3)."""

    backbone: Backbone = "tiny"
    # Frozen BatchNorm as in the paper's ImageNet-pretrained backbones. A from-scratch tiny
    # network cannot freeze BN (its statistics are not learnt yet), so the synthetic setting
    # keeps it trainable.
    freeze_bn: bool = False
    # "none", "imagenet" (keras.applications weights, needs network) or a path to a
    # keras.applications weights file (.h5) for the chosen backbone.
    pretrained: str = "none"
    aspp_dilations: list[int] = field(default_factory=lambda: [6, 12, 18, 24])
    # Width of the first stage of the tiny backbone (later stages double it).
    tiny_width: int = 16
    # Hidden channels of the discriminator's 3x3 convolutions (the paper: 256, 128).
    discriminator_channels: list[int] = field(default_factory=lambda: [256, 128])


@dataclass
class SyntheticConfig:
    """Sizes of the built-in procedural domain shift (fada_tf.data.synthetic)."""

    height: int = 64
    width: int = 128
    source_images: int = 1000
    target_train_images: int = 1000
    target_val_images: int = 200
    seed: int = 1234


@dataclass
class DomainConfig:
    """One domain's data: where it lives and how it is augmented for training."""

    dataset: Dataset = "synthetic"
    # A prepared dataset folder (``fada-tf data prepare``); unused for synthetic data.
    root: str = ""
    train_split: str = "train"
    # Split with labels used for evaluation ("" = none).
    val_split: str = ""
    # Training images are resized to (height, width) ...
    resize: list[int] = field(default_factory=lambda: [64, 128])
    # ... randomly rescaled by a factor in [min, max] and cropped to (height, width).
    scale_range: list[float] = field(default_factory=lambda: [1.0, 1.0])
    crop: list[int] = field(default_factory=lambda: [64, 128])
    flip: bool = True
    color_jitter: bool = False
    # Class-balanced sampling of a labelled source (fada_tf.data.sampler): sub-epochs of 3,000
    # draws of a class weighted 1/ln(1.01 + running frequency), then an image containing it.
    class_balanced: bool = False


@dataclass
class DataConfig:
    classes: ClassTable = "synthetic"
    source: DomainConfig = field(default_factory=DomainConfig)
    target: DomainConfig = field(default_factory=lambda: DomainConfig(val_split="val"))
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)
    # Evaluation resizes images to this (height, width); labels keep full resolution.
    eval_size: list[int] = field(default_factory=lambda: [64, 128])
    eval_batch_size: int = 8


@dataclass
class SGDConfig:
    """Segmentor optimiser: SGD with torch-style momentum and L2 weight decay, poly decay."""

    # The paper's 2.5e-4 is for ImageNet-pretrained ResNet-101 (configs/paper_base.yaml); the
    # synthetic default trains the tiny network from scratch and needs a larger step.
    learning_rate: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 1e-4
    # The ASPP head learns this many times faster than the backbone.
    head_lr_multiplier: float = 10.0
    poly_power: float = 0.9
    # Steps over which the poly schedule decays to 0; 0 means the stage's number of steps.
    # The reference decays over 62.5k steps and stops at 40k.
    schedule_horizon: int = 0


@dataclass
class AdamConfig:
    """Discriminator optimiser: Adam with the same poly decay."""

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
    # Start from this segmentor weights file instead of model.pretrained, e.g. torchvision's
    # ImageNet backbone converted by `fada-tf convert torch --imagenet` (the paper's exact
    # initialisation).
    init_checkpoint: str = ""


@dataclass
class AdaptStageConfig:
    """Stage 2: fine-grained adversarial adaptation (eq. 2, 5, 6)."""

    steps: int = 2000
    # Images per domain in a step (the paper: 4 source + 4 target).
    batch_size: int = 8
    optimizer: SGDConfig = field(default_factory=SGDConfig)
    discriminator_optimizer: AdamConfig = field(default_factory=AdamConfig)
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


@dataclass
class DistillStageConfig:
    """Optional stage 3: self-distillation (paper section 4.6, Table 4 "SD").

    The teacher (the model of the previous stage, or ``teacher_checkpoint``) labels the target
    training split with its hard predictions; a student is trained on them with cross-entropy.
    """

    steps: int = 2000
    batch_size: int = 8
    optimizer: SGDConfig = field(default_factory=SGDConfig)
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
    # on 3 of 3 seeds (README "Evaluation, CCD and self-distillation").
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


@dataclass
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    source: SourceStageConfig = field(default_factory=SourceStageConfig)
    adapt: AdaptStageConfig = field(default_factory=AdaptStageConfig)
    distill: DistillStageConfig = field(default_factory=DistillStageConfig)
    run: RunConfig = field(default_factory=RunConfig)
