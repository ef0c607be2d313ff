"""A timm feature extractor as the image trunk (EdgeTAM's RepViT-M1).

The parameters are timm's own modules under ``body`` (the names of the official checkpoints).
Outside autograd, RepViT runs with every batch norm folded into the convolution before it and
each RepVGG token mixer (3x3 and 1x1 depthwise convolutions plus identity) folded into one 3x3
depthwise convolution, on channels-last tensors: the same function with about half the memory
traffic. The folded weights are computed once and kept until a parameter changes.
"""

from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from .common import linear_activation_weights, parameter_state

LEVELS = (0, 1, 2, 3)


def _timm():
    try:
        import timm
    except ImportError as error:  # EdgeTAM only: SAM 2 needs no timm
        raise ImportError("EdgeTAM's image trunk needs the timm package: pip install timm") from error
    return timm


class FoldedConv:
    """A convolution with its batch norm (and parallel branches) folded in: weight, bias and
    the convolution's geometry."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor, conv: nn.Conv2d) -> None:
        self.weight, self.bias = weight, bias
        self.stride, self.padding, self.groups = conv.stride, conv.padding, conv.groups
        self.pointwise = conv.kernel_size == (1, 1) and conv.groups == 1 and conv.stride == (1, 1)

    def __call__(self, x: torch.Tensor, activation: str = "none") -> torch.Tensor:
        """x (B, C, H, W) channels-last -> (B, C', H', W') channels-last."""
        if self.pointwise:  # a matmul over channels of the channels-last tensor: no copies
            flat = self.weight.flatten(1)
            return linear_activation_weights(x.permute(0, 2, 3, 1), flat, self.bias, activation).permute(0, 3, 1, 2)
        out = F.conv2d(x, self.weight, self.bias, self.stride, self.padding, groups=self.groups)
        return F.gelu(out) if activation == "gelu" else out


def _fold_norm(conv: nn.Conv2d, norm: nn.BatchNorm2d) -> Tuple[torch.Tensor, torch.Tensor]:
    """Weight and bias of conv followed by norm (in eval mode) as one convolution."""
    scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
    bias = norm.bias - norm.running_mean * scale
    if conv.bias is not None:
        bias = bias + conv.bias * scale
    return conv.weight * scale[:, None, None, None], bias


class RepVitFolding:
    """Runs a timm RepViT feature extractor with folded convolutions (see the module docstring).

    The structure is read off timm's modules by their class names; a part it does not know
    runs as timm's own module.
    """

    def __init__(self, body: nn.Module) -> None:
        self.body = body
        self._folded: Dict[int, FoldedConv] = {}
        self._state: Optional[Tuple] = None

    def _check_state(self) -> None:
        state = tuple(parameter_state(t) for t in self.body.state_dict(keep_vars=True).values())
        if state != self._state:
            self._folded.clear()
            self._state = state

    def _conv_norm(self, module: nn.Module) -> FoldedConv:
        """timm's ConvNorm (a convolution ``c`` and a batch norm ``bn``) as one convolution."""
        folded = self._folded.get(id(module))
        if folded is None:
            folded = self._folded[id(module)] = FoldedConv(*_fold_norm(module.c, module.bn), module.c)
        return folded

    def _token_mixer(self, module: nn.Module) -> FoldedConv:
        """RepVGG depthwise mixer: 3x3 + 1x1 depthwise convolutions + identity (+ a batch norm
        after the sum in timm's non-legacy form) as one 3x3 depthwise convolution."""
        folded = self._folded.get(id(module))
        if folded is not None:
            return folded
        weight, bias = _fold_norm(module.conv.c, module.conv.bn)
        if isinstance(module.conv1, nn.Conv2d):
            side_weight, side_bias = module.conv1.weight, module.conv1.bias
        else:
            side_weight, side_bias = _fold_norm(module.conv1.c, module.conv1.bn)
        center = (weight.shape[-2] // 2, weight.shape[-1] // 2)
        weight = weight.clone()
        weight[:, :, center[0], center[1]] += side_weight[:, :, 0, 0] + 1.0
        bias = bias + side_bias
        if isinstance(module.bn, nn.BatchNorm2d):
            scale = module.bn.weight / torch.sqrt(module.bn.running_var + module.bn.eps)
            weight = weight * scale[:, None, None, None]
            bias = (bias - module.bn.running_mean) * scale + module.bn.bias
        folded = self._folded[id(module)] = FoldedConv(weight, bias, module.conv.c)
        return folded

    def _mlp(self, module: nn.Module, x: torch.Tensor) -> torch.Tensor:
        return self._conv_norm(module.conv2)(self._conv_norm(module.conv1)(x, "gelu"))

    def _block(self, module: nn.Module, x: torch.Tensor) -> torch.Tensor:
        x = self._token_mixer(module.token_mixer)(x)
        x = self.run(module.se, x)
        return x + self._mlp(module.channel_mixer, x)

    def _downsample(self, module: nn.Module, x: torch.Tensor) -> torch.Tensor:
        x = self._block(module.pre_block, x)
        x = self._conv_norm(module.spatial_downsample)(x)
        x = self._conv_norm(module.channel_downsample)(x)
        return x + self._mlp(module.ffn, x)

    def _stem(self, module: nn.Module, x: torch.Tensor) -> torch.Tensor:
        return self._conv_norm(module.conv2)(self._conv_norm(module.conv1)(x, "gelu"))

    def run(self, module: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """``module`` applied to x (channels-last), folded where the module is known."""
        runners: Dict[str, Callable[[nn.Module, torch.Tensor], torch.Tensor]] = {
            "RepVitStem": self._stem, "RepViTBlock": self._block, "RepVitDownsample": self._downsample,
            "RepVitMlp": self._mlp,
        }
        name = type(module).__name__
        if name in runners:
            return runners[name](module, x)
        if name == "ConvNorm":
            return self._conv_norm(module)(x)
        if name == "RepVggDw":
            return self._token_mixer(module)(x)
        if isinstance(module, nn.Sequential) or name == "RepVitStage":
            for child in module.children():
                x = self.run(child, x)
            return x
        return module(x)

    def __call__(self, images: torch.Tensor) -> List[torch.Tensor]:
        """images (B, 3, S, S) -> the levels timm returns, finest first (channels-last)."""
        self._check_state()
        x = images.contiguous(memory_format=torch.channels_last)
        features = []
        for name, module in self.body.items():
            x = self.run(module, x)
            if name in self.body.return_layers:
                features.append(x)
        return features


class TimmFeatures(nn.Module):
    """(B, 3, S, S) -> feature maps at strides 4, 8, 16, 32, finest first, from timm's
    ``model_name`` built with ``pretrained=False`` (weights come from the checkpoint)."""

    def __init__(self, model_name: str, channels: Sequence[int]) -> None:
        super().__init__()
        self.body = _timm().create_model(model_name, pretrained=False, features_only=True, out_indices=LEVELS)
        found = tuple(self.body.feature_info.channels())
        if found != tuple(channels):
            raise ValueError(f"timm's {model_name} gives channels {found}, the config expects {tuple(channels)}")
        self.channel_list = list(reversed(found))
        self._folding = RepVitFolding(self.body) if model_name.startswith("repvit") else None

    def forward(self, images: torch.Tensor) -> List[torch.Tensor]:
        if self._folding is None or torch.is_grad_enabled() or self.training:
            return list(self.body(images))
        return self._folding(images)
