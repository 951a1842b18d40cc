"""The original FADA's networks in plain ``torch.nn``, written from its description.

Independent of fada-tf's Keras code on purpose: tests/convert/test_converter.py checks the
converter against these modules (logit parity), tests/adaptation/test_fada_model_vs_torch.py
fada-tf's train steps against ``adaptation_iteration`` and ``self_distill_iteration``, one
iteration each of the original's train_adv.py and train_self_distill.py loops, and
bench/train_step_vs_torch.py times ``adaptation_iteration``. The structure and the state-dict keys are the original's:
torchvision's Bottleneck ResNet with ``replace_stride_with_dilation=[False, True, True]`` and
frozen BatchNorm (buffers, no epsilon) or, with ``norm_layer=nn.BatchNorm2d``, the trainable
BatchNorm the original uses when ``MODEL.FREEZE_BN`` is off (core/models/feature_extractor.py:
37-39), FADA's VGG-16 (pool4/pool5 removed, conv5 dilated 2, fc6/fc7 dilated 4),
``ASPP_Classifier_V2`` and ``PixelDiscriminator``; the classifier and the discriminator upsample
their output to ``size`` with ``F.interpolate(bilinear, align_corners=True)`` when given one, as
the original's do.

Needs PyTorch (``pip install 'fada-tf[torch]'``) and imports nothing else: nothing in fada-tf
imports it, and a PyTorch process that does loads no TensorFlow.
"""

import torch
import torch.nn.functional as F
from torch import nn

# Bottleneck blocks per layer of torchvision's ResNets.
RESNET_BLOCKS = {"resnet50": (3, 4, 6, 3), "resnet101": (3, 4, 23, 3)}


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

    def __init__(self, inplanes, planes, stride, dilation, downsample, stride_on_1x1=False,
                 norm_layer=FrozenBatchNorm2d):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, stride=stride if stride_on_1x1 else 1, bias=False)
        self.bn1 = norm_layer(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1 if stride_on_1x1 else stride,
                               padding=dilation, dilation=dilation, bias=False)
        self.bn2 = norm_layer(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = norm_layer(planes * 4)
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
    ``norm_layer``: ``FrozenBatchNorm2d`` (default) or e.g. ``nn.BatchNorm2d`` (trainable; its
    ``train()``/``eval()`` mode decides batch or running statistics, as in torch).
    """

    def __init__(self, blocks, dilate_first_block=False, stride_on_1x1=False,
                 norm_layer=FrozenBatchNorm2d):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = norm_layer(64)
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
                                       norm_layer(planes * 4))
            layers = [Bottleneck(inplanes, planes, stride, first_dilation, downsample, stride_on_1x1,
                                 norm_layer)]
            layers += [Bottleneck(planes * 4, planes, 1, dilation, None, norm_layer=norm_layer)
                       for _ in range(count - 1)]
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


# --- the original's training iterations -----------------------------------------------------
# Written from JDAI-CV/FADA train_adv.py and train_self_distill.py (line numbers of the commit
# 98336a6); the tests compare fada-tf's train steps with them
# (tests/adaptation/test_fada_model_vs_torch.py).

def poly_lr(base_lr, iteration, max_iters, power=0.9):
    """core/solver/build.py ``adjust_learning_rate('poly', ...)``: ``base · (1 − it/max)^power``."""
    return base_lr * (1.0 - float(iteration) / max_iters) ** power


def soft_label_cross_entropy(pred, soft_label):
    """train_adv.py:30-35 without pixel weights: mean over N, H, W of ``−Σ_c q_c log softmax(p)_c``."""
    return torch.mean(torch.sum(-soft_label * F.log_softmax(pred, dim=1), dim=1))


def original_optimizers(feature_extractor, classifier, discriminator=None, base_lr=2.5e-4,
                        base_lr_d=1e-4, momentum=0.9, weight_decay=5e-4):
    """The optimisers of train_adv.py:79-86 (train_self_distill.py:67-71 without D).

    SGD (momentum, coupled weight decay) on F, the same at 10× the learning rate on C, and
    ``Adam(betas=(0.9, 0.99))`` (ε 1e-8, no weight decay) on D.
    """
    optimizers = {
        "fea": torch.optim.SGD(feature_extractor.parameters(), lr=base_lr, momentum=momentum,
                               weight_decay=weight_decay),
        "cls": torch.optim.SGD(classifier.parameters(), lr=base_lr * 10, momentum=momentum,
                               weight_decay=weight_decay),
    }
    if discriminator is not None:
        optimizers["D"] = torch.optim.Adam(discriminator.parameters(), lr=base_lr_d, betas=(0.9, 0.99))
    return optimizers


def _set_learning_rates(optimizers, iteration, max_iters, base_lr, base_lr_d, power):
    """train_adv.py:148-155 / train_self_distill.py:124-128: every param group's lr overwritten."""
    rates = {"fea": poly_lr(base_lr, iteration, max_iters, power)}
    rates["cls"] = rates["fea"] * 10
    if "D" in optimizers:
        rates["D"] = poly_lr(base_lr_d, iteration, max_iters, power)
    for name, rate in rates.items():
        for group in optimizers[name].param_groups:
            group["lr"] = rate


def adaptation_iteration(feature_extractor, classifier, discriminator, optimizers, src_input,
                         src_label, tgt_input, iteration, max_iters, base_lr=2.5e-4,
                         base_lr_d=1e-4, power=0.9, temperature=1.8, clip=0.9, lambda_adv=0.001):
    """One iteration of train_adv.py's loop (lines 148-209), in its order.

    1. poly learning rates set on every param group (C at 10×); all gradients zeroed;
    2. source: ``p_s = C(F(x_s), size) / T``, ``CE(p_s, y_s, ignore 255)``, backward (169-174);
       soft labels ``softmax(p_s)`` detached, values above ``clip`` set to ``clip`` (178-179);
    3. target: ``p_t = C(F(x_t), size) / T``, soft labels likewise (181-187);
       ``λ · softCE(D(F(x_t), size), [q_t; 0])`` backward (189-191) — this also fills D's
       gradients, which step 5 discards;
    4. SGD steps of F and C (193-194);
    5. D's gradients zeroed; ``0.5 · softCE(D(f_s.detach()), [q_s; 0])`` and
       ``0.5 · softCE(D(f_t.detach()), [0; q_t])`` backward; Adam step of D (196-209).

    The modules must be in train mode. Returns the losses as floats.
    """
    _set_learning_rates(optimizers, iteration, max_iters, base_lr, base_lr_d, power)
    for optimizer in optimizers.values():
        optimizer.zero_grad()
    src_size, tgt_size = src_input.shape[-2:], tgt_input.shape[-2:]

    src_fea = feature_extractor(src_input)
    src_pred = classifier(src_fea, src_size) / temperature
    loss_seg = F.cross_entropy(src_pred, src_label, ignore_index=255)
    loss_seg.backward()
    src_soft = F.softmax(src_pred, dim=1).detach().clamp(max=clip)

    tgt_fea = feature_extractor(tgt_input)
    tgt_pred = classifier(tgt_fea, tgt_size) / temperature
    tgt_soft = F.softmax(tgt_pred, dim=1).detach().clamp(max=clip)
    zeros = torch.zeros_like(tgt_soft)
    loss_adv = lambda_adv * soft_label_cross_entropy(discriminator(tgt_fea, tgt_size),
                                                     torch.cat((tgt_soft, zeros), dim=1))
    loss_adv.backward()
    optimizers["fea"].step()
    optimizers["cls"].step()

    optimizers["D"].zero_grad()
    loss_d_src = 0.5 * soft_label_cross_entropy(
        discriminator(src_fea.detach(), src_size),
        torch.cat((src_soft, torch.zeros_like(src_soft)), dim=1))
    loss_d_src.backward()
    loss_d_tgt = 0.5 * soft_label_cross_entropy(
        discriminator(tgt_fea.detach(), tgt_size), torch.cat((zeros, tgt_soft), dim=1))
    loss_d_tgt.backward()
    optimizers["D"].step()
    return {"seg_loss": loss_seg.item(), "adv_loss": loss_adv.item() / lambda_adv,
            "d_loss": loss_d_src.item() + loss_d_tgt.item()}


def self_distill_iteration(feature_extractor, classifier, optimizers, src_input, src_label,
                           iteration, max_iters, base_lr=5e-4, power=0.9):
    """One iteration of train_self_distill.py's loop (lines 124-140): poly learning rates (C at
    10×), gradients zeroed, ``CE(C(F(x), size), y, ignore 255)`` without a temperature,
    backward, SGD steps of F and C. With trainable ``nn.BatchNorm2d`` in train mode the forward
    pass also updates the running statistics. Returns the loss."""
    _set_learning_rates(optimizers, iteration, max_iters, base_lr, None, power)
    for optimizer in optimizers.values():
        optimizer.zero_grad()
    pred = classifier(feature_extractor(src_input), src_label.shape[-2:])
    loss = F.cross_entropy(pred, src_label, ignore_index=255)
    loss.backward()
    optimizers["fea"].step()
    optimizers["cls"].step()
    return loss.item()
