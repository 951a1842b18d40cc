"""Converting PyTorch checkpoints of the original FADA and torchvision's ImageNet backbones.

``convert_torch_checkpoint`` (``fada-tf convert torch``) writes a run directory from a
checkpoint; PyTorch is needed only here (``pip install 'fada-tf[torch]'``) and is imported
only when a checkpoint is read.
"""

from fada_tf.convert.converter import convert_torch_checkpoint

__all__ = ["convert_torch_checkpoint"]
