"""EdgeTAM's spatial perceiver: a stored frame's memory map compressed to a few hundred latents.

Global latents attend to every token of the frame (with its position encoding added to keys
and values); grid latents, one per window of a square grid of windows, attend to their window
only. Both go through the same layers. A frame's memory becomes the global latents (no
position: encoding zero) followed by the grid latents in row-major order (encoded by their
place in the grid), so memory attention reads ``global + grid`` tokens per frame instead of
every pixel of the 16x-downsampled map.
"""

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from .attention import RotaryLayout
from .position_encoding import PositionEmbeddingSine


def _heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """(B, N, H * D) -> (B, H, N, D)."""
    batch, tokens, width = x.shape
    return x.view(batch, tokens, heads, width // heads).transpose(1, 2)


def _merge_heads(x: torch.Tensor) -> torch.Tensor:
    """(B, H, N, D) -> (B, N, H * D)."""
    batch, heads, tokens, width = x.shape
    return x.transpose(1, 2).reshape(batch, tokens, heads * width)


class FeedForward(nn.Sequential):
    """LayerNorm, widening linear, GELU, narrowing linear (no biases); ``0``, ``1``, ``3`` hold
    the parameters, as in the official checkpoints."""

    def __init__(self, dim: int, mult: int) -> None:
        super().__init__(
            nn.LayerNorm(dim), nn.Linear(dim, dim * mult, bias=False), nn.GELU(), nn.Linear(dim * mult, dim, bias=False)
        )


class LatentCrossAttention(nn.Module):
    """Latents (queries) attend to a frame's tokens; an encoding of the tokens may be added to
    the projected keys and values."""

    def __init__(self, dim: int, heads: int, head_dim: int) -> None:
        super().__init__()
        inner = heads * head_dim
        self.heads = heads
        self.norm_x = nn.LayerNorm(dim)
        self.norm_latents = nn.LayerNorm(dim)
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_kv = nn.Linear(dim, 2 * inner, bias=False)
        self.to_out = nn.Linear(inner, dim, bias=False)

    def forward(self, latents: torch.Tensor, tokens: torch.Tensor, encoding: Optional[torch.Tensor]) -> torch.Tensor:
        """latents (B, L, D), tokens (B, N, D), encoding (B, N, inner) or None -> (B, L, D)."""
        q = self.to_q(self.norm_latents(latents))
        k, v = self.to_kv(self.norm_x(tokens)).chunk(2, dim=-1)
        if encoding is not None:
            k, v = k + encoding, v + encoding
        heads = self.heads
        attended = F.scaled_dot_product_attention(_heads(q, heads), _heads(k, heads), _heads(v, heads))
        return self.to_out(_merge_heads(attended))


class LatentSelfAttention(nn.Module):
    """Latents attend to each other."""

    def __init__(self, dim: int, heads: int, head_dim: int) -> None:
        super().__init__()
        inner = heads * head_dim
        self.heads = heads
        self.norm = nn.LayerNorm(dim)
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_kv = nn.Linear(dim, 2 * inner, bias=False)
        self.to_out = nn.Linear(inner, dim, bias=False)

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        normed = self.norm(latents)
        k, v = self.to_kv(normed).chunk(2, dim=-1)
        heads = self.heads
        attended = F.scaled_dot_product_attention(_heads(self.to_q(normed), heads), _heads(k, heads), _heads(v, heads))
        return self.to_out(_merge_heads(attended))


class PerceiverLayer(nn.Module):
    """Cross-attention to the frame and a feed-forward, then self-attention among the latents
    and another feed-forward; every part residual."""

    def __init__(self, dim: int, heads: int, head_dim: int, ff_mult: int) -> None:
        super().__init__()
        self.attn = LatentCrossAttention(dim, heads, head_dim)
        self.ff = FeedForward(dim, ff_mult)
        self.self_attn = LatentSelfAttention(dim, heads, head_dim)
        self.self_ff = FeedForward(dim, ff_mult)

    def forward(self, latents: torch.Tensor, tokens: torch.Tensor, encoding: Optional[torch.Tensor] = None) -> torch.Tensor:
        latents = latents + self.attn(latents, tokens, encoding)
        latents = latents + self.ff(latents)
        latents = latents + self.self_attn(latents)
        return latents + self.self_ff(latents)


class SpatialPerceiver(nn.Module):
    """(B, C, h, w) memory features and their encoding -> (B, G + L, C) latents, G global then
    L = s * s grid latents (each of a window of (h / s) x (w / s) tokens)."""

    def __init__(
        self, dim: int, global_latents: int = 256, grid_latents: int = 256, depth: int = 2, heads: int = 1,
        head_dim: int = 64, ff_mult: int = 4,
    ) -> None:
        super().__init__()
        side = math.isqrt(grid_latents)
        if side * side != grid_latents:
            raise ValueError(f"grid latents must form a square, got {grid_latents}")
        if heads * head_dim != dim:
            raise ValueError("the perceiver's heads * head_dim must equal its width (encodings are added to keys)")
        self.grid_side = side
        self.latents = nn.Parameter(torch.randn(global_latents, dim))
        self.latents_2d = nn.Parameter(torch.randn(grid_latents, dim))
        self.layers = nn.ModuleList(PerceiverLayer(dim, heads, head_dim, ff_mult) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.position_encoding = PositionEmbeddingSine(dim)

    @property
    def rotary_layout(self) -> RotaryLayout:
        """Global latents unrotated, then the grid of grid latents."""
        return RotaryLayout((self.grid_side, self.grid_side), unrotated=self.latents.shape[0])

    def token_encoding(self, device: torch.device) -> torch.Tensor:
        """(1, G + L, C) encoding of the latents: zero for global ones, the sine encoding of
        their cell for grid ones."""
        side = self.grid_side
        grid = self.position_encoding.grid(side, side, device).flatten(1).transpose(0, 1)
        zeros = grid.new_zeros(self.latents.shape[0], grid.shape[1])
        return torch.cat([zeros, grid])[None]

    def check_grid(self, height: int, width: int) -> None:
        """ValueError unless an (h, w) map splits into the perceiver's square grid of windows."""
        side = self.grid_side
        if height % side or width % side:
            raise ValueError(
                f"EdgeTAM's perceiver splits the {height}x{width} memory map into {side}x{side} windows: "
                f"the input size must be a multiple of {16 * side} px"
            )

    def forward(self, features: torch.Tensor, encoding: torch.Tensor) -> torch.Tensor:
        """features, encoding (B, C, h, w) -> (B, G + L, C) normalized latents."""
        return torch.cat([self._global(features, encoding), self._grid(features)], dim=1)

    def _global(self, features: torch.Tensor, encoding: torch.Tensor) -> torch.Tensor:
        tokens = features.flatten(2).transpose(1, 2)
        token_encoding = encoding.flatten(2).transpose(1, 2)
        latents = self.latents[None].expand(len(features), -1, -1)
        for layer in self.layers:
            latents = layer(latents, tokens, token_encoding)
        return self.norm(latents)

    def _grid(self, features: torch.Tensor) -> torch.Tensor:
        """Each grid latent attends to its window's tokens (no encoding): windows become batch rows."""
        batch, channels, height, width = features.shape
        self.check_grid(height, width)
        side = self.grid_side
        rows, cols = height // side, width // side
        windows = features.permute(0, 2, 3, 1).reshape(batch, side, rows, side, cols, channels)
        windows = windows.permute(0, 1, 3, 2, 4, 5).reshape(batch * side * side, rows * cols, channels)
        latents = self.latents_2d[None].expand(batch, -1, -1).reshape(batch * side * side, 1, channels)
        for layer in self.layers:
            latents = layer(latents, windows)
        return self.norm(latents.reshape(batch, side * side, channels))

