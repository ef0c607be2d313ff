"""Multi-head attention with optional internal down-projection and 2-D rotary encoding."""

from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from .common import Linear, fusable_on_cpu, fused_linear, parameter_state
from .position_encoding import AxialRotaryTable, pair_swap


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
        self.q_proj = Linear(embedding_dim, internal_dim)
        self.k_proj = Linear(kv_dim, internal_dim)
        self.v_proj = Linear(kv_dim, internal_dim)
        self.out_proj = Linear(internal_dim, embedding_dim)

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
    ``num_k_exclude_rope`` tokens that are not rotated (object pointers). Queries may have
    batch 1 while keys have batch B: the queries are then shared by all B.

    Rotation is folded into the projections: a projection stacked with its pair-swapped copy
    gives x and swap(x) in one matmul, and x * cos + swap(x) * sin is the rotated x.
    """

    def __init__(self, *args, rope_theta: float = 10000.0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.rotary = AxialRotaryTable(self.internal_dim // self.num_heads, theta=rope_theta)
        self._stacked_cache: Dict[str, Tuple[Tuple, Tuple[torch.Tensor, torch.Tensor]]] = {}

    def _stacked_projection(self, name: str, dtype: torch.dtype) -> Tuple[torch.Tensor, torch.Tensor]:
        """(2C, C_in) weight and (2C,) bias of projection ``name`` followed by its copy whose
        output channel pairs (a, b) come out as (-b, a); in ``dtype``, kept until the
        projection's parameters change (built anew under autograd)."""
        linear: nn.Linear = getattr(self, name)
        key = (dtype, parameter_state(linear.weight), parameter_state(linear.bias))
        cached = self._stacked_cache.get(name)
        if cached is not None and cached[0] == key:
            return cached[1]
        weight, bias = linear.weight, linear.bias
        order, sign = pair_swap(self.internal_dim, weight.device)
        stacked = (
            torch.cat([weight, weight[order] * sign[:, None].to(weight.dtype)]).to(dtype),
            torch.cat([bias, bias[order] * sign.to(bias.dtype)]).to(dtype),
        )
        if not torch.is_grad_enabled():
            self._stacked_cache[name] = (key, stacked)
        return stacked

    def rotated_projection(
        self, x: torch.Tensor, name: str, grid_hw: Tuple[int, int], num_unrotated: int = 0, bias: bool = True
    ) -> torch.Tensor:
        """x (B, N, C_in) -> (B, N, C) projected by ``name`` (with or without its bias), the
        first N - num_unrotated tokens rotated (as grids of H*W tokens)."""
        linear: nn.Linear = getattr(self, name)
        if fusable_on_cpu(x, linear.weight):
            weight, stacked_bias = self._stacked_projection(name, torch.bfloat16)
            projected = fused_linear(x, weight, stacked_bias if bias else None)
        else:
            weight, stacked_bias = self._stacked_projection(name, linear.weight.dtype)
            projected = F.linear(x, weight, stacked_bias if bias else None)
        plain, swapped = projected.chunk(2, dim=-1)
        batch, tokens, channels = plain.shape
        grid_tokens = grid_hw[0] * grid_hw[1]
        rotated_tokens = tokens - num_unrotated
        cos, sin = self.rotary.paired_tables(*grid_hw, x.device, plain.dtype, self.num_heads)
        out = torch.empty_like(plain)
        grids = rotated_tokens // grid_tokens
        head = out[:, :rotated_tokens].view(batch, grids, grid_tokens, channels)
        torch.mul(plain[:, :rotated_tokens].view(batch, grids, grid_tokens, channels), cos, out=head)
        head.addcmul_(swapped[:, :rotated_tokens].view(batch, grids, grid_tokens, channels), sin)
        out[:, rotated_tokens:] = plain[:, rotated_tokens:]
        return out

    def forward(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, grid_hw: Tuple[int, int],
        num_k_exclude_rope: int = 0,
    ) -> torch.Tensor:
        return self.attend_to_keys(q, self.rotated_projection(k, "k_proj", grid_hw, num_k_exclude_rope), v, grid_hw)

    def attend_to_keys(
        self, q: torch.Tensor, keys: torch.Tensor, v: torch.Tensor, grid_hw: Tuple[int, int]
    ) -> torch.Tensor:
        """Like forward, with keys (B, M, C) already projected and rotated."""
        q = self._heads(self.rotated_projection(q, "q_proj", grid_hw))
        keys, v = self._heads(keys), self._heads(self.v_proj(v))
        if q.shape[0] != keys.shape[0]:
            q = q.expand(keys.shape[0], -1, -1, -1)
        return self._attend(q, keys, v)
