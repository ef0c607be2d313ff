"""EfficientTAM's image encoder parts: a plain ViT trunk (windowed attention in most blocks)
and a neck that turns its single stride-16 map into the model's features."""

from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from .attention_kernels import attention
from .common import MLP, LayerNorm2d, Linear, parameter_state, to_autocast_dtype
from .hiera import merge_windows, split_windows
from .position_encoding import PositionEmbeddingSine


class PatchEmbed(nn.Module):
    """Non-overlapping ``patch`` x ``patch`` patches: (B, 3, H, W) -> (B, H/patch, W/patch, C)."""

    def __init__(self, embed_dim: int, patch: int, in_chans: int = 3) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch, stride=patch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x.contiguous(memory_format=torch.channels_last)).permute(0, 2, 3, 1)


class VitAttention(nn.Module):
    """Multi-head self-attention over the tokens of a (B, H, W, C) map."""

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.qkv, self.proj = Linear(dim, dim * 3), Linear(dim, dim)
        self.num_heads = num_heads

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, height, width, _ = x.shape
        q, k, v = self.qkv(x).reshape(batch, height * width, 3, self.num_heads, -1).unbind(2)
        out = attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        return self.proj(out.transpose(1, 2).reshape(batch, height, width, -1))


class VitBlock(nn.Module):
    """Pre-norm transformer block; attention within ``window_size`` windows (zero-padded at
    the map's edges) or, with window_size 0, over the whole map."""

    def __init__(self, dim: int, num_heads: int, window_size: int = 0, mlp_ratio: float = 4.0) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = VitAttention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = MLP(dim, int(dim * mlp_ratio), dim, num_layers=2, activation=nn.GELU)
        self.window_size = window_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, H, W, C) -> (B, H, W, C)."""
        attended = to_autocast_dtype(self.norm1(x))
        if self.window_size:
            windows, padded_hw = split_windows(attended, self.window_size)
            attended = merge_windows(self.attn(windows), self.window_size, padded_hw, x.shape[1:3])
        else:
            attended = self.attn(attended)
        x = x + attended
        return x + self.mlp(to_autocast_dtype(self.norm2(x)))


class PlainVit(nn.Module):
    """Patch embedding, an absolute position embedding (learnt for a ``pretrain_grid`` square
    of patches after a class token, resized bicubically to the input) and ``depth`` blocks,
    global except those in ``window_blocks``. (B, 3, S, S) -> [(B, C, S/patch, S/patch)]."""

    def __init__(
        self, embed_dim: int, depth: int, num_heads: int, window_size: int = 14,
        window_blocks: Sequence[int] = (), patch_size: int = 16, pretrain_grid: int = 14,
    ) -> None:
        super().__init__()
        self.patch_embed = PatchEmbed(embed_dim, patch_size)
        self.pos_embed = nn.Parameter(torch.zeros(1, pretrain_grid * pretrain_grid + 1, embed_dim))
        self.blocks = nn.ModuleList(
            VitBlock(embed_dim, num_heads, window_size if index in window_blocks else 0) for index in range(depth)
        )
        self.channel_list = [embed_dim]
        self._cached_position_embedding: Optional[Tuple[Tuple, torch.Tensor]] = None

    def _position_embedding(self, height: int, width: int) -> torch.Tensor:
        """(1, H, W, C), kept (outside autograd) until the size or the parameter changes."""
        if torch.is_grad_enabled():
            return self._compute_position_embedding(height, width)
        key = (height, width, parameter_state(self.pos_embed))
        if self._cached_position_embedding is None or self._cached_position_embedding[0] != key:
            self._cached_position_embedding = (key, self._compute_position_embedding(height, width))
        return self._cached_position_embedding[1]

    def _compute_position_embedding(self, height: int, width: int) -> torch.Tensor:
        patches = self.pos_embed[:, 1:]
        side = int(round(patches.shape[1] ** 0.5))
        grid = patches.reshape(1, side, side, -1)
        if (side, side) == (height, width):
            return grid
        resized = F.interpolate(grid.permute(0, 3, 1, 2), size=(height, width), mode="bicubic", align_corners=False)
        return resized.permute(0, 2, 3, 1).contiguous()

    def forward(self, images: torch.Tensor) -> List[torch.Tensor]:
        x = self.patch_embed(images)
        x = x + self._position_embedding(x.shape[1], x.shape[2])
        for block in self.blocks:
            x = block(x)
        return [x.permute(0, 3, 1, 2)]


class SingleLevelNeck(nn.Module):
    """The ViT's one map to ``d_model`` channels: 1x1 conv, LayerNorm, 3x3 conv, LayerNorm
    (convolutions without bias, as the norms follow them)."""

    def __init__(self, d_model: int, backbone_channel_list: Sequence[int]) -> None:
        super().__init__()
        if len(backbone_channel_list) != 1:
            raise ValueError("the single-level neck takes exactly one trunk level")
        self.d_model = d_model
        self.backbone_channel_list = list(backbone_channel_list)
        self.position_encoding = PositionEmbeddingSine(d_model)
        level = nn.Sequential()
        level.add_module("conv_1x1", nn.Conv2d(backbone_channel_list[0], d_model, kernel_size=1, bias=False))
        level.add_module("norm_0", LayerNorm2d(d_model))
        level.add_module("conv_3x3", nn.Conv2d(d_model, d_model, kernel_size=3, padding=1, bias=False))
        level.add_module("norm_1", LayerNorm2d(d_model))
        self.convs = nn.ModuleList([level])

    def forward(self, trunk_features: List[torch.Tensor], projections: Sequence[Optional[nn.Conv2d]] = ()):
        """[(B, C_trunk, h, w)] -> ([(B, d_model, h, w)], [its encoding]); a single-level model
        has no high-resolution projections, so ``projections`` must be empty."""
        if any(projection is not None for projection in projections):
            raise ValueError("a single-level neck has no levels for high-resolution projections")
        features = self.convs[0](trunk_features[0])
        return [features], [self.position_encoding(features)]
