"""Hiera trunk: a hierarchical ViT with windowed attention and query pooling between stages."""

import functools
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from .attention_kernels import attention
from .common import MLP, Linear, parameter_state, to_autocast_dtype


def split_windows(x: torch.Tensor, size: int) -> Tuple[torch.Tensor, Tuple[int, int]]:
    """(B, H, W, C) -> (B * nWin, size, size, C), zero-padding H and W up to multiples of size.

    Also returns the padded (H, W).
    """
    batch, height, width, channels = x.shape
    pad_h, pad_w = -height % size, -width % size
    if pad_h or pad_w:
        x = F.pad(x, (0, 0, 0, pad_w, 0, pad_h))
    rows, cols = (height + pad_h) // size, (width + pad_w) // size
    x = x.view(batch, rows, size, cols, size, channels).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, size, size, channels), (height + pad_h, width + pad_w)


def merge_windows(windows: torch.Tensor, size: int, padded_hw: Tuple[int, int], hw: Tuple[int, int]) -> torch.Tensor:
    """Inverse of split_windows: (B * nWin, size, size, C) -> (B, H, W, C) without padding."""
    padded_h, padded_w = padded_hw
    rows, cols = padded_h // size, padded_w // size
    batch = windows.shape[0] // (rows * cols)
    x = windows.reshape(batch, rows, cols, size, size, -1).permute(0, 1, 3, 2, 4, 5)
    x = x.reshape(batch, padded_h, padded_w, -1)
    height, width = hw
    return x[:, :height, :width, :] if (padded_h, padded_w) != (height, width) else x


def max_pool_channels_last(x: torch.Tensor, stride: Tuple[int, int]) -> torch.Tensor:
    """Max pooling with kernel == stride of a (B, H, W, C) tensor -> (B, H // sh, W // sw, C),
    like ``nn.MaxPool2d`` (trailing rows/columns dropped, NaN propagated).

    Elementwise maxima of strided views of the channels-last input: 2-3x faster on CPU, at
    the encoder's shapes, than max_pool2d over a permuted view, which also copies the input
    and builds indices nobody reads.
    """
    batch, height, width, channels = x.shape
    stride_h, stride_w = stride
    rows, cols = height // stride_h, width // stride_w
    x = x[:, : rows * stride_h, : cols * stride_w]
    row_groups = x.reshape(batch, rows, stride_h, cols * stride_w, channels).unbind(2)
    x = functools.reduce(torch.maximum, row_groups)
    return functools.reduce(torch.maximum, x.view(batch, rows, cols, stride_w, channels).unbind(3))


class PatchEmbed(nn.Module):
    """7x7 stride-4 convolution: (B, 3, H, W) -> (B, H/4, W/4, C)."""

    def __init__(self, embed_dim: int, in_chans: int = 3) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=7, stride=4, padding=3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # A channels-last input makes the convolution write channels-last directly: the
        # permuted result is contiguous, and this runs ~6x faster on CPU than channels-first.
        return self.proj(x.contiguous(memory_format=torch.channels_last)).permute(0, 2, 3, 1)


class MultiScaleAttention(nn.Module):
    """Multi-head self-attention whose queries may be max-pooled (stage transitions)."""

    def __init__(self, dim: int, dim_out: int, num_heads: int, q_stride: Optional[Tuple[int, int]] = None) -> None:
        super().__init__()
        self.qkv, self.proj = Linear(dim, dim_out * 3), Linear(dim_out, dim_out)
        self.num_heads, self.q_stride = num_heads, q_stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, H, W, C) -> (B, H', W', C_out); H' = H / stride when pooling."""
        batch, height, width, _ = x.shape
        qkv = self.qkv(x).reshape(batch, height * width, 3, self.num_heads, -1)
        q, k, v = qkv.unbind(2)
        if self.q_stride:
            q = max_pool_channels_last(q.reshape(batch, height, width, -1), self.q_stride)
            height, width = q.shape[1:3]
            q = q.reshape(batch, height * width, self.num_heads, -1)
        out = attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        out = out.transpose(1, 2).reshape(batch, height, width, -1)
        return self.proj(out)


class MultiScaleBlock(nn.Module):
    """Pre-norm transformer block with optional windowing and query pooling."""

    def __init__(
        self, dim: int, dim_out: int, num_heads: int, window_size: int = 0,
        q_stride: Optional[Tuple[int, int]] = None, mlp_ratio: float = 4.0,
    ) -> None:
        super().__init__()
        self.dim, self.dim_out = dim, dim_out
        self.window_size = window_size
        self.q_stride = q_stride
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = MultiScaleAttention(dim, dim_out, num_heads, q_stride=q_stride)
        self.norm2 = nn.LayerNorm(dim_out, eps=1e-6)
        self.mlp = MLP(dim_out, int(dim_out * mlp_ratio), dim_out, num_layers=2, activation=nn.GELU)
        if dim != dim_out:
            self.proj = Linear(dim, dim_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, H, W, dim) -> (B, H', W', dim_out)."""
        normed = to_autocast_dtype(self.norm1(x))
        shortcut = x
        if self.dim != self.dim_out:
            shortcut = self.proj(normed)
            if self.q_stride:
                shortcut = max_pool_channels_last(shortcut, self.q_stride)

        attended = normed
        if self.window_size > 0:
            attended, padded_hw = split_windows(attended, self.window_size)
        attended = self.attn(attended)
        if self.window_size > 0:
            out_window = self.window_size
            out_hw = shortcut.shape[1:3]
            if self.q_stride:
                out_window = self.window_size // self.q_stride[0]
                padded_hw = tuple(-(-side // out_window) * out_window for side in out_hw)
            attended = merge_windows(attended, out_window, padded_hw, out_hw)

        x = shortcut + attended
        return x + self.mlp(to_autocast_dtype(self.norm2(x)))


class Hiera(nn.Module):
    """Hierarchical vision transformer returning one feature map per stage.

    Input (B, 3, S, S); outputs, finest first: (B, C * 2**i, S / 4 / 2**i, S / 4 / 2**i).
    """

    def __init__(
        self, embed_dim: int = 96, num_heads: int = 1, stages: Sequence[int] = (2, 3, 16, 3),
        global_att_blocks: Sequence[int] = (12, 16, 20), window_spec: Sequence[int] = (8, 4, 14, 7),
        window_pos_embed_bkg_spatial_size: Tuple[int, int] = (14, 14), q_pool: int = 3,
        q_stride: Tuple[int, int] = (2, 2), dim_mul: float = 2.0, head_mul: float = 2.0,
    ) -> None:
        super().__init__()
        if len(stages) != len(window_spec):
            raise ValueError("stages and window_spec must have the same length")
        self.stage_ends = [sum(stages[: i + 1]) - 1 for i in range(len(stages))]
        pooled_blocks = {end + 1 for end in self.stage_ends[:-1][:q_pool]}

        self.patch_embed = PatchEmbed(embed_dim)
        self.pos_embed = nn.Parameter(torch.zeros(1, embed_dim, *window_pos_embed_bkg_spatial_size))
        self.pos_embed_window = nn.Parameter(torch.zeros(1, embed_dim, window_spec[0], window_spec[0]))

        self.blocks = nn.ModuleList()
        dim, heads, stage = embed_dim, num_heads, 0
        for index in range(sum(stages)):
            # A stage's first block still uses the previous stage's window size.
            window = 0 if index in global_att_blocks else window_spec[stage]
            dim_out = dim
            if index - 1 in self.stage_ends:
                dim_out, heads, stage = int(dim * dim_mul), int(heads * head_mul), stage + 1
            self.blocks.append(
                MultiScaleBlock(
                    dim, dim_out, heads, window_size=window,
                    q_stride=q_stride if index in pooled_blocks else None,
                )
            )
            dim = dim_out
        self.channel_list = [self.blocks[end].dim_out for end in reversed(self.stage_ends)]
        self._cached_position_embedding: Optional[Tuple[Tuple, torch.Tensor]] = None

    def _position_embedding(self, height: int, width: int) -> torch.Tensor:
        """(1, H, W, C): background embedding resized bicubically plus the tiled window
        embedding; cached (outside autograd) until the size or the parameters change."""
        if torch.is_grad_enabled():
            return self._compute_position_embedding(height, width)
        key = (height, width, *(parameter_state(p) for p in (self.pos_embed, self.pos_embed_window)))
        if self._cached_position_embedding is None or self._cached_position_embedding[0] != key:
            self._cached_position_embedding = (key, self._compute_position_embedding(height, width))
        return self._cached_position_embedding[1]

    def _compute_position_embedding(self, height: int, width: int) -> torch.Tensor:
        background = F.interpolate(self.pos_embed, size=(height, width), mode="bicubic")
        window = self.pos_embed_window
        tiles = (height // window.shape[-2], width // window.shape[-1])
        return (background + window.tile(1, 1, *tiles)).permute(0, 2, 3, 1).contiguous()

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        x = self.patch_embed(x)
        x = x + self._position_embedding(x.shape[1], x.shape[2])
        features = []
        stage_ends = set(self.stage_ends)
        for index, block in enumerate(self.blocks):
            x = block(x)
            if index in stage_ends:
                features.append(x.permute(0, 3, 1, 2))
        return features
