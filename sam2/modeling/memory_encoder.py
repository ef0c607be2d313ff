"""Memory encoder: fuses a frame's features with its predicted mask into memory features."""

from typing import Tuple

import torch
from torch import nn

from .common import LayerNorm2d, Linear, linear_activation
from .position_encoding import PositionEmbeddingSine


class MaskDownSampler(nn.Module):
    """Stride-2 conv + LayerNorm2d + GELU, repeated to reach ``total_stride``, then a 1x1
    projection: (B, 1, S, S) -> (B, embed_dim, S / total_stride, S / total_stride)."""

    def __init__(self, embed_dim: int = 256, total_stride: int = 16, stride: int = 2) -> None:
        super().__init__()
        self.encoder = nn.Sequential()
        channels, reached = 1, 1
        while reached < total_stride:
            widened = channels * stride * stride
            self.encoder.append(nn.Conv2d(channels, widened, kernel_size=3, stride=stride, padding=1))
            self.encoder.append(LayerNorm2d(widened))
            self.encoder.append(nn.GELU())
            channels, reached = widened, reached * stride
        self.encoder.append(nn.Conv2d(channels, embed_dim, kernel_size=1))

    def forward(self, masks: torch.Tensor) -> torch.Tensor:
        return self.encoder(masks)


class CXBlock(nn.Module):
    """ConvNeXt block: depthwise 7x7 conv, LayerNorm, MLP x4, layer scale, residual."""

    def __init__(self, dim: int, kernel_size: int = 7) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel_size=kernel_size, padding=kernel_size // 2, groups=dim)
        self.norm = LayerNorm2d(dim, eps=1e-6)
        self.pwconv1 = Linear(dim, 4 * dim)
        self.pwconv2 = Linear(4 * dim, dim)
        self.gamma = nn.Parameter(1e-6 * torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, C, H, W)."""
        y = self.norm(self.dwconv(x)).permute(0, 2, 3, 1)
        y = self.gamma * self.pwconv2(linear_activation(y, self.pwconv1, "gelu"))
        return x + y.permute(0, 3, 1, 2)


class Fuser(nn.Module):
    """A stack of ConvNeXt blocks."""

    def __init__(self, dim: int, num_layers: int = 2) -> None:
        super().__init__()
        self.layers = nn.ModuleList(CXBlock(dim) for _ in range(num_layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


class MemoryEncoder(nn.Module):
    """(pixel features, mask probabilities) -> (memory features, their position encoding)."""

    def __init__(self, in_dim: int = 256, out_dim: int = 64, fuser_layers: int = 2) -> None:
        super().__init__()
        self.mask_downsampler = MaskDownSampler(in_dim)
        self.pix_feat_proj = nn.Conv2d(in_dim, in_dim, kernel_size=1)
        self.fuser = Fuser(in_dim, fuser_layers)
        self.position_encoding = PositionEmbeddingSine(out_dim)
        self.out_proj = nn.Conv2d(in_dim, out_dim, kernel_size=1) if out_dim != in_dim else nn.Identity()

    def forward(self, pix_feat: torch.Tensor, mask_for_mem: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """pix_feat (B, C, h, w); mask_for_mem (B, 1, 16h, 16w), already squashed and
        scaled -> features (B, C_mem, h, w) and encoding (B, C_mem, h, w)."""
        x = self.pix_feat_proj(pix_feat) + self.mask_downsampler(mask_for_mem)
        x = self.out_proj(self.fuser(x))
        return x, self.position_encoding(x)
