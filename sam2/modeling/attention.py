"""Multi-head attention with optional internal down-projection and 2-D rotary encoding."""

from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ..runtime import attention as attention_runtime
from ..runtime.attention_rule import AttentionShape
from .attention_kernels import KERNELS, attention, choosable, chunked
from .common import Linear, fusable_on_cpu, fused_linear, parameter_state
from .position_encoding import AxialRotaryTable, pair_swap


@dataclass(frozen=True)
class RotaryLayout:
    """Where 2-D rotary encoding applies in a sequence of tokens made of equal groups: in each
    group, ``unrotated`` tokens come first, then a row-major ``grid`` (rows, cols) of rotated
    tokens. A frame's features are one group with nothing unrotated; EdgeTAM's compressed
    memory of a frame is 256 global latents (unrotated) then a 16 x 16 grid of latents."""

    grid: Tuple[int, int]
    unrotated: int = 0

    @property
    def grid_tokens(self) -> int:
        return self.grid[0] * self.grid[1]

    @property
    def group_tokens(self) -> int:
        return self.unrotated + self.grid_tokens


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

    def _merge(self, attended: torch.Tensor) -> torch.Tensor:
        """(B, heads, N, C / heads) -> (B, N, C) through the output projection."""
        batch, heads, tokens, width = attended.shape
        return self.out_proj(attended.transpose(1, 2).reshape(batch, tokens, heads * width))

    def _attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return self._merge(attention(q, k, v))

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
        self._folded_cache: Optional[Tuple[Tuple, Tuple[torch.Tensor, torch.Tensor]]] = None
        # Values narrower than a head (64-wide memories, 256-wide heads) can be attended to as
        # they are and projected after: the same result, with fewer operations.
        self.values_are_narrow = self.v_proj.in_features < self.internal_dim // self.num_heads

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
        self, x: torch.Tensor, name: str, layout: RotaryLayout, num_unrotated: int = 0, bias: bool = True
    ) -> torch.Tensor:
        """x (B, N, C_in) -> (B, N, C) projected by ``name`` (with or without its bias); the
        first N - num_unrotated tokens are groups laid out as ``layout`` says, the rest (object
        pointers) are not rotated."""
        linear: nn.Linear = getattr(self, name)
        if fusable_on_cpu(x, linear.weight):
            weight, stacked_bias = self._stacked_projection(name, torch.bfloat16)
            projected = fused_linear(x, weight, stacked_bias if bias else None)
        else:
            weight, stacked_bias = self._stacked_projection(name, linear.weight.dtype)
            projected = F.linear(x, weight, stacked_bias if bias else None)
        plain, swapped = projected.chunk(2, dim=-1)
        batch, tokens, channels = plain.shape
        grouped_tokens = tokens - num_unrotated
        groups = grouped_tokens // layout.group_tokens
        cos, sin = self.rotary.paired_tables(*layout.grid, x.device, plain.dtype, self.num_heads)
        out = torch.empty_like(plain)
        shape = (batch, groups, layout.group_tokens, channels)
        out_groups, plain_groups = out[:, :grouped_tokens].view(shape), plain[:, :grouped_tokens].view(shape)
        grid, prefix = slice(layout.unrotated, None), slice(None, layout.unrotated)
        torch.mul(plain_groups[:, :, grid], cos, out=out_groups[:, :, grid])
        out_groups[:, :, grid].addcmul_(swapped[:, :grouped_tokens].view(shape)[:, :, grid], sin)
        out_groups[:, :, prefix] = plain_groups[:, :, prefix]
        out[:, grouped_tokens:] = plain[:, grouped_tokens:]
        return out

    def forward(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, grid_hw: Tuple[int, int],
        num_k_exclude_rope: int = 0,
    ) -> torch.Tensor:
        keys = self.rotated_projection(k, "k_proj", RotaryLayout(grid_hw), num_k_exclude_rope)
        return self.attend_to_keys(q, keys, v, grid_hw)

    def attend_to_keys(
        self, q: torch.Tensor, keys: torch.Tensor, v: torch.Tensor, grid_hw: Tuple[int, int],
        key_bias: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        """Like forward, with keys (B, M, C) already projected and rotated; ``key_bias`` (M,)
        is added to every query's scaled scores."""
        q = self._heads(self.rotated_projection(q, "q_proj", RotaryLayout(grid_hw)))
        keys = self._heads(keys)
        if q.shape[0] != keys.shape[0]:
            q = q.expand(keys.shape[0], -1, -1, -1)
        if not (self.values_are_narrow and choosable(q)):
            return self._merge(attention(q, keys, self._heads(self.v_proj(v)), key_bias))
        unprojected = v.unsqueeze(1).expand(-1, self.num_heads, -1, -1)
        ways = {name: (lambda kernel=kernel: self._merge(kernel(q, keys, self._heads(self.v_proj(v)), key_bias)))
                for name, kernel in KERNELS.items()}
        # Not the fused kernel: on the CPU it needs values as wide as keys (else it runs ~7x slower).
        ways["chunked, values after"] = lambda: self._values_after(chunked(q, keys, unprojected, key_bias))
        return attention_runtime.run(AttentionShape.of(q, keys, v.shape[-1], key_bias, values_after=True), ways)

    def _values_after(self, attended: torch.Tensor) -> torch.Tensor:
        """(B, heads, N, C_kv) attention over unprojected values -> (B, N, C): each head's
        value projection and its part of the output projection, folded into one. Softmax
        weights sum to one, so the value bias passes through the attention unchanged."""
        weight, bias = self._folded_value_output(attended.dtype)
        if self.num_heads == 1:
            return F.linear(attended[:, 0], weight[0], bias)
        return torch.einsum("bhnd,hcd->bnc", attended, weight) + bias

    def _folded_value_output(self, dtype: torch.dtype) -> Tuple[torch.Tensor, torch.Tensor]:
        """(heads, C, C_kv) weights out_proj[:, head] @ v_proj[head] and (C,) bias
        out_proj @ v_bias + out_bias, in ``dtype``; kept until the parameters change."""
        v_proj, out_proj = self.v_proj, self.out_proj
        key = (dtype, *(parameter_state(p) for p in (v_proj.weight, v_proj.bias, out_proj.weight, out_proj.bias)))
        if self._folded_cache is not None and self._folded_cache[0] == key:
            return self._folded_cache[1]
        heads, head_width = self.num_heads, self.internal_dim // self.num_heads
        value_weight = v_proj.weight.float().reshape(heads, head_width, -1)
        output_weight = out_proj.weight.float().reshape(-1, heads, head_width).transpose(0, 1)
        weight = torch.matmul(output_weight, value_weight)
        bias = out_proj.weight.float() @ v_proj.bias.float() + out_proj.bias.float()
        folded = (weight.to(dtype), bias.to(dtype))
        if not torch.is_grad_enabled():
            self._folded_cache = (key, folded)
        return folded
