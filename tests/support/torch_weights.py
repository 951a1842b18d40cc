"""Random weights for the PyTorch reference networks (``tests.support.torch_reference``) and
their inputs: what the converter's and the pretrained-weights tests feed both frameworks."""

import torch
from torch import nn

from tests.support.torch_reference import FrozenBatchNorm2d

# The size of ``image``: odd, so that every stride rounds.
HEIGHT, WIDTH = 65, 97


def randomize(module, image, seed):
    """He-normal convs, non-zero biases, and every frozen BN given random statistics near its
    input's on ``image`` (mean shifted, variance scaled 0.5-2x, gamma 0.5-1.5, beta N(0, 0.2)).

    A residual branch's last BN (``bn3``) gets a quarter of that gamma: with full-size branches
    a random ResNet-101 amplifies rounding so much that torch's own float32 result is 1.5e-4
    away from its float64 one; with quarter-size ones 6e-6.
    """
    generator = torch.Generator().manual_seed(seed)
    residual_ends = {m for name, m in module.named_modules() if name.endswith("bn3")}

    def uniform(n, low, high):
        return torch.empty(n).uniform_(low, high, generator=generator)

    def calibrate(bn, inputs):
        x = inputs[0]
        n = x.shape[1]
        std = x.std((0, 2, 3)).clamp_min(1e-2)
        bn.running_mean.copy_(x.mean((0, 2, 3)) + 0.2 * std * torch.randn(n, generator=generator))
        bn.running_var.copy_(std ** 2 * uniform(n, 0.5, 2.0))
        bn.weight.copy_(uniform(n, 0.5, 1.5) * (0.25 if bn in residual_ends else 1.0))
        bn.bias.copy_(0.2 * torch.randn(n, generator=generator))

    hooks = []
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.Conv2d):
                fan_in = m.weight[0].numel()
                m.weight.copy_(torch.randn(m.weight.shape, generator=generator) * (2.0 / fan_in) ** 0.5)
                if m.bias is not None:
                    m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=generator))
            elif isinstance(m, FrozenBatchNorm2d):
                hooks.append(m.register_forward_pre_hook(calibrate))
        module(image)
    for hook in hooks:
        hook.remove()
    return module


def image(seed):
    return torch.randn((1, 3, HEIGHT, WIDTH), generator=torch.Generator().manual_seed(seed))


def state(module, prefix=""):
    return {prefix + key: value.clone() for key, value in module.state_dict().items()}
