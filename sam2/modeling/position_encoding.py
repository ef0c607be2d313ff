"""Positional encodings: 2-D sine maps, random Fourier features, 1-D temporal sine, axial RoPE."""

import math
from typing import Dict, Optional, Tuple

import torch
from torch import nn


def _interleaved_sin_cos(angles: torch.Tensor) -> torch.Tensor:
    """(..., D) angles -> (..., D) with sin on even and cos on odd channels."""
    out = torch.empty_like(angles)
    out[..., 0::2] = angles[..., 0::2].sin()
    out[..., 1::2] = angles[..., 1::2].cos()
    return out


def _frequency_divisors(num_feats: int, temperature: float, device: torch.device) -> torch.Tensor:
    """(num_feats,) divisors temperature ** (2 * (i // 2) / num_feats)."""
    steps = torch.arange(num_feats, dtype=torch.float32, device=device)
    return temperature ** (2 * (steps // 2) / num_feats)


class PositionEmbeddingSine(nn.Module):
    """Fixed 2-D sine/cosine encoding of a feature map's grid.

    ``num_pos_feats`` output channels: the first half encodes rows, the second columns.
    """

    def __init__(
        self, num_pos_feats: int, temperature: float = 10000, normalize: bool = True,
        scale: Optional[float] = None,
    ) -> None:
        super().__init__()
        if num_pos_feats % 2:
            raise ValueError("num_pos_feats must be even")
        self.feats_per_axis = num_pos_feats // 2
        self.temperature = temperature
        self.normalize = normalize
        self.scale = 2 * math.pi if scale is None else scale
        self._cache: Dict[Tuple, torch.Tensor] = {}

    def _axis(self, length: int, device: torch.device) -> torch.Tensor:
        """(length, feats_per_axis) encoding of positions 1..length along one axis."""
        positions = torch.arange(1, length + 1, dtype=torch.float32, device=device)
        if self.normalize:
            positions = positions / (length + 1e-6) * self.scale
        divisors = _frequency_divisors(self.feats_per_axis, self.temperature, device)
        return _interleaved_sin_cos(positions[:, None] / divisors)

    def grid(self, height: int, width: int, device: torch.device, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """(C, H, W) encoding (computed in float32), cached per size, device and dtype."""
        key = (height, width, str(device), dtype)
        if key not in self._cache:
            if dtype != torch.float32:
                self._cache[key] = self.grid(height, width, device).to(dtype)
            else:
                rows = self._axis(height, device).t()[:, :, None].expand(-1, height, width)
                cols = self._axis(width, device).t()[:, None, :].expand(-1, height, width)
                self._cache[key] = torch.cat([rows, cols], dim=0).contiguous()
        return self._cache[key]

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, *, H, W) -> (B, C, H, W) encoding of its grid, in x's dtype."""
        grid = self.grid(x.shape[-2], x.shape[-1], x.device, x.dtype)
        return grid[None].expand(x.shape[0], -1, -1, -1)


class PositionEmbeddingRandom(nn.Module):
    """Random Fourier features of coordinates in [0, 1] (the prompt encoder's encoding)."""

    def __init__(self, num_pos_feats: int = 64, scale: Optional[float] = None) -> None:
        super().__init__()
        scale = 1.0 if scale is None or scale <= 0.0 else scale
        self.register_buffer(
            "positional_encoding_gaussian_matrix", scale * torch.randn((2, num_pos_feats))
        )

    def _encode(self, coords: torch.Tensor) -> torch.Tensor:
        """(..., 2) coordinates in [0, 1] -> (..., 2 * num_pos_feats)."""
        projected = (2 * coords - 1) @ self.positional_encoding_gaussian_matrix
        projected = 2 * math.pi * projected
        return torch.cat([projected.sin(), projected.cos()], dim=-1)

    def forward(self, size: Tuple[int, int]) -> torch.Tensor:
        """Encoding of the centres of an (H, W) grid -> (C, H, W)."""
        height, width = size
        device = self.positional_encoding_gaussian_matrix.device
        ys = (torch.arange(height, dtype=torch.float32, device=device) + 0.5) / height
        xs = (torch.arange(width, dtype=torch.float32, device=device) + 0.5) / width
        coords = torch.stack(
            [xs[None, :].expand(height, width), ys[:, None].expand(height, width)], dim=-1
        )
        return self._encode(coords).permute(2, 0, 1)

    def forward_with_coords(self, coords: torch.Tensor, image_size: Tuple[int, int]) -> torch.Tensor:
        """(B, N, 2) pixel (x, y) coordinates in an image of ``image_size`` (H, W) -> (B, N, C)."""
        height, width = image_size
        scaled = torch.stack([coords[..., 0] / width, coords[..., 1] / height], dim=-1)
        return self._encode(scaled.to(torch.float32))


def temporal_sine_encoding(positions: torch.Tensor, dim: int, temperature: float = 10000) -> torch.Tensor:
    """(N,) positions -> (N, dim): sines in the first half, cosines in the second."""
    half = dim // 2
    divisors = _frequency_divisors(half, temperature, positions.device)
    angles = positions.unsqueeze(-1) / divisors
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


class AxialRotaryTable:
    """Cos/sin tables of 2-D axial rotary embeddings for a (H, W) token grid.

    Channel pairs are split in two halves: the first rotates with the column index,
    the second with the row index.
    """

    def __init__(self, head_dim: int, theta: float = 10000.0) -> None:
        if head_dim % 4:
            raise ValueError("rotary head dimension must be a multiple of 4")
        self.head_dim = head_dim
        self.theta = theta
        self._cache: Dict[Tuple, Tuple[torch.Tensor, torch.Tensor]] = {}

    def tables(self, height: int, width: int, device: torch.device) -> Tuple[torch.Tensor, torch.Tensor]:
        """(H*W, head_dim/2) cos and sin tables for tokens in row-major order."""
        key = (height, width, str(device))
        if key not in self._cache:
            quarter = self.head_dim // 4
            exponents = torch.arange(0, self.head_dim, 4, device=device)[:quarter].float()
            inv_freq = 1.0 / (self.theta ** (exponents / self.head_dim))
            index = torch.arange(height * width, dtype=torch.float32, device=device)
            cols = index % width
            rows = torch.div(index, width, rounding_mode="floor")
            angles = torch.cat([torch.outer(cols, inv_freq), torch.outer(rows, inv_freq)], dim=-1)
            self._cache[key] = (angles.cos(), angles.sin())
        return self._cache[key]

    def paired_tables(
        self, height: int, width: int, device: torch.device, dtype: torch.dtype, heads: int = 1
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """(H*W, heads * head_dim) cos and sin with each pair's angle on both of its channels,
        repeated for every head: x * cos + pair_swapped(x) * sin rotates x."""
        key = (height, width, str(device), dtype, heads)
        if key not in self._cache:
            cos, sin = self.tables(height, width, device)
            self._cache[key] = tuple(
                t.repeat_interleave(2, dim=-1).repeat(1, heads).to(dtype) for t in (cos, sin)
            )
        return self._cache[key]


def pair_swap(channels: int, device: torch.device) -> Tuple[torch.Tensor, torch.Tensor]:
    """(order, sign) with x[..., order] * sign mapping each channel pair (a, b) of x to (-b, a)."""
    order = torch.arange(channels, device=device).view(-1, 2).flip(-1).flatten()
    sign = torch.tensor([-1.0, 1.0], device=device).repeat(channels // 2)
    return order, sign
