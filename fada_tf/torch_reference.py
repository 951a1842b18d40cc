"""The original FADA's networks in plain ``torch.nn``, written from its description.

Independent of fada-tf's Keras code on purpose: tests/test_convert.py checks the converter
against these modules (logit parity), and bench/train_step_vs_torch.py times the original's
training step with them. The structure and the state-dict keys are the original's:
torchvision's Bottleneck ResNet with ``replace_stride_with_dilation=[False, True, True]`` and
frozen BatchNorm (buffers, no epsilon), FADA's VGG-16 (pool4/pool5 removed, conv5 dilated 2,
fc6/fc7 dilated 4), ``ASPP_Classifier_V2`` and ``PixelDiscriminator``; the classifier and the
discriminator upsample their output to ``size`` with ``F.interpolate(bilinear,
align_corners=True)`` when given one, as the original's do.

Needs PyTorch (``pip install 'fada-tf[torch]'``) and imports nothing else: nothing in fada-tf
imports it, and a PyTorch process that does loads no TensorFlow.
"""

import torch
import torch.nn.functional as F
from torch import nn


class FrozenBatchNorm2d(nn.Module):
    """BatchNorm with fixed buffers and no epsilon, as the original's."""

    def __init__(self, channels):
        super().__init__()
        for name, value in (("weight", 1.0), ("bias", 0.0), ("running_mean", 0.0), ("running_var", 1.0)):
            self.register_buffer(name, torch.full((channels,), value))

    def forward(self, x):
        scale = self.weight * self.running_var.rsqrt()
        shift = self.bias - self.running_mean * scale
        return x * scale[None, :, None, None] + shift[None, :, None, None]


class Bottleneck(nn.Module):
    """1x1 -> 3x3 (stride, dilation; or the stride on the 1x1 when ``stride_on_1x1``) -> 1x1."""

    def __init__(self, inplanes, planes, stride, dilation, downsample, stride_on_1x1=False):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, stride=stride if stride_on_1x1 else 1, bias=False)
        self.bn1 = FrozenBatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1 if stride_on_1x1 else stride,
                               padding=dilation, dilation=dilation, bias=False)
        self.bn2 = FrozenBatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = FrozenBatchNorm2d(planes * 4)
        self.downsample = downsample

    def forward(self, x):
        shortcut = x if self.downsample is None else self.downsample(x)
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        return F.relu(self.bn3(self.conv3(y)) + shortcut)


class DilatedResNet(nn.Module):
    """ResNet with layer3/layer4 strides replaced by dilation (output stride 8).

    Faithful: the first block of a dilated layer keeps the previous dilation (layer3: 1,
    then 2; layer4: 2, then 4). ``dilate_first_block`` gives it the new one instead.
    """

    def __init__(self, blocks, dilate_first_block=False, stride_on_1x1=False):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = FrozenBatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        inplanes, dilation = 64, 1
        for index, (planes, count, stride, dilate) in enumerate(
                zip((64, 128, 256, 512), blocks, (1, 2, 2, 2), (False, False, True, True)), start=1):
            first_dilation = dilation
            if dilate:
                dilation, stride = dilation * stride, 1
            if dilate_first_block:
                first_dilation = dilation
            downsample = nn.Sequential(nn.Conv2d(inplanes, planes * 4, 1, stride=stride, bias=False),
                                       FrozenBatchNorm2d(planes * 4))
            layers = [Bottleneck(inplanes, planes, stride, first_dilation, downsample, stride_on_1x1)]
            layers += [Bottleneck(planes * 4, planes, 1, dilation, None) for _ in range(count - 1)]
            setattr(self, f"layer{index}", nn.Sequential(*layers))
            inplanes = planes * 4

    def forward(self, x):
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


def fada_vgg16(conv5_dilation=2):
    """FADA's VGG-16 Sequential: torchvision's features without pool4/pool5, then fc6/fc7."""
    layers, channels = [], 3
    for block, (width, convs) in enumerate(((64, 2), (128, 2), (256, 3), (512, 3), (512, 3)), start=1):
        dilation = conv5_dilation if block == 5 else 1
        for _ in range(convs):
            layers += [nn.Conv2d(channels, width, 3, padding=dilation, dilation=dilation), nn.ReLU()]
            channels = width
        if block <= 3:
            layers.append(nn.MaxPool2d(2, 2))
    for _ in ("fc6", "fc7"):
        layers += [nn.Conv2d(channels, 1024, 3, padding=4, dilation=4), nn.ReLU()]
        channels = 1024
    return nn.Sequential(*layers)


class FeatureExtractor(nn.Module):
    def __init__(self, backbone):
        super().__init__()
        self.backbone = backbone

    def forward(self, x):
        return self.backbone(x)


class AsppClassifierV2(nn.Module):
    def __init__(self, in_channels, num_classes, dilations=(6, 12, 18, 24)):
        super().__init__()
        self.conv2d_list = nn.ModuleList(
            nn.Conv2d(in_channels, num_classes, 3, padding=d, dilation=d) for d in dilations)

    def forward(self, x, size=None):
        return _upsampled(sum(conv(x) for conv in self.conv2d_list), size)


class PixelDiscriminator(nn.Module):
    def __init__(self, in_channels, num_classes, ndf=256):
        super().__init__()
        self.D = nn.Sequential(nn.Conv2d(in_channels, ndf, 3, padding=1), nn.LeakyReLU(0.2),
                               nn.Conv2d(ndf, ndf // 2, 3, padding=1), nn.LeakyReLU(0.2))
        self.cls1 = nn.Conv2d(ndf // 2, num_classes, 3, padding=1)
        self.cls2 = nn.Conv2d(ndf // 2, num_classes, 3, padding=1)

    def forward(self, x, size=None):
        y = self.D(x)
        return _upsampled(torch.cat([self.cls1(y), self.cls2(y)], dim=1), size)


def _upsampled(x, size):
    """``x`` (NCHW) resized to ``size`` = (height, width) as the original does; unchanged for None."""
    return x if size is None else F.interpolate(x, size=size, mode="bilinear", align_corners=True)
