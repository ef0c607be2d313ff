"""Multi-head attention with optional internal down-projection and 2-D rotary encoding."""

from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from .position_encoding import AxialRotaryTable, apply_rotary


class Attention(nn.Module):
    """Attention whose q/k/v are projected to ``embedding_dim // downsample_rate`` channels.

    Keys and values may come from a space of ``kv_in_dim`` channels.
    """

    def __init__(
        self, embedding_dim: int, num_heads: int, downsample_rate: int = 1, kv_in_dim: Optional[int] = None,
    ) -> None:
        super().__init__()
        internal_dim = embedding_dim // downsample_rate
        if internal_dim % num_heads:
            raise ValueError("num_heads must divide the internal attention width")
        kv_dim = embedding_dim if kv_in_dim is None else kv_in_dim
        self.num_heads = num_heads
        self.internal_dim = internal_dim
        self.q_proj = nn.Linear(embedding_dim, internal_dim)
        self.k_proj = nn.Linear(kv_dim, internal_dim)
        self.v_proj = nn.Linear(kv_dim, internal_dim)
        self.out_proj = nn.Linear(internal_dim, embedding_dim)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        """(B, N, C) -> (B, heads, N, C / heads)."""
        batch, tokens, channels = x.shape
        return x.reshape(batch, tokens, self.num_heads, channels // self.num_heads).transpose(1, 2)

    def _project(self, q, k, v) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self._heads(self.q_proj(q)), self._heads(self.k_proj(k)), self._heads(self.v_proj(v))

    def _attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        out = F.scaled_dot_product_attention(q, k, v)
        batch, heads, tokens, width = out.shape
        return self.out_proj(out.transpose(1, 2).reshape(batch, tokens, heads * width))

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """q (B, Nq, C), k/v (B, Nk, C_kv) -> (B, Nq, C)."""
        return self._attend(*self._project(q, k, v))


class RoPEAttention(Attention):
    """Attention with axial rotary position encoding of queries and keys.

    Queries form one (H, W) grid; keys are one or more such grids followed by
    ``num_k_exclude_rope`` tokens that are not rotated (object pointers).
    """

    def __init__(self, *args, rope_theta: float = 10000.0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.rotary = AxialRotaryTable(self.internal_dim // self.num_heads, theta=rope_theta)

    def forward(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, grid_hw: Tuple[int, int],
        num_k_exclude_rope: int = 0,
    ) -> torch.Tensor:
        q, k, v = self._project(q, k, v)
        cos, sin = self.rotary.tables(grid_hw[0], grid_hw[1], q.device)
        q = apply_rotary(q, cos, sin)
        rotated_keys = k.shape[-2] - num_k_exclude_rope
        if rotated_keys > 0:
            k = torch.cat([apply_rotary(k[:, :, :rotated_keys], cos, sin), k[:, :, rotated_keys:]], dim=2)
        return self._attend(q, k, v)
