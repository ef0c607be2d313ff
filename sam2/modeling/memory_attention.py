"""Memory attention: current-frame features attend to themselves and to the memory bank."""

from typing import List, Optional, Tuple

import torch
from torch import nn

from .attention import RoPEAttention
from .common import Linear, activation_by_name, linear_activation, to_autocast_dtype


class MemoryAttentionLayer(nn.Module):
    """RoPE self-attention, RoPE cross-attention to memories, feed-forward; all pre-norm."""

    def __init__(
        self, d_model: int, kv_dim: int, dim_feedforward: int, num_heads: int = 1, rope_theta: float = 10000.0,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        self.self_attn = RoPEAttention(d_model, num_heads, rope_theta=rope_theta)
        self.cross_attn_image = RoPEAttention(d_model, num_heads, kv_in_dim=kv_dim, rope_theta=rope_theta)
        self.linear1 = Linear(d_model, dim_feedforward)
        self.linear2 = Linear(dim_feedforward, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.norm3 = nn.LayerNorm(d_model)
        activation_by_name(activation)  # rejects unknown names here rather than at the first frame
        self.activation = activation

    def forward(
        self, x: torch.Tensor, memory: torch.Tensor, memory_pos: torch.Tensor, grid_hw: Tuple[int, int],
        num_k_exclude_rope: int, keys: Optional[torch.Tensor] = None, values: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        """x (B, HW, C); memory and memory_pos (B, M, C_mem) -> (B, HW, C). ``keys`` (B, M, C),
        when given, are the cross-attention keys of memory + memory_pos, already rotated;
        ``values`` (B, M, C_mem), when given, is memory already in the compute dtype."""
        normed = to_autocast_dtype(self.norm1(x))
        x = x + self.self_attn(normed, normed, normed, grid_hw)
        normed = to_autocast_dtype(self.norm2(x))
        if keys is None:
            keys = self.cross_attn_image.rotated_projection(memory + memory_pos, "k_proj", grid_hw, num_k_exclude_rope)
        x = x + self.cross_attn_image.attend_to_keys(normed, keys, memory if values is None else values, grid_hw)
        hidden = linear_activation(to_autocast_dtype(self.norm3(x)), self.linear1, self.activation)
        return x + self.linear2(hidden)


class MemoryAttention(nn.Module):
    """A stack of memory attention layers with a final LayerNorm."""

    def __init__(self, d_model: int, layers: nn.ModuleList) -> None:
        super().__init__()
        self.d_model = d_model
        self.layers = layers
        self.norm = nn.LayerNorm(d_model)

    def forward(
        self, curr: torch.Tensor, curr_pos: torch.Tensor, memory: torch.Tensor, memory_pos: torch.Tensor,
        grid_hw: Tuple[int, int], num_obj_ptr_tokens: int = 0, keys: Optional[List[torch.Tensor]] = None,
    ) -> torch.Tensor:
        """curr/curr_pos (B, HW, C): current features and their encoding; memory/memory_pos
        (B, M, C_mem), whose last ``num_obj_ptr_tokens`` tokens are object pointers -> (B, HW, C).
        ``keys``: optionally each layer's cross-attention keys (B, M, C), already rotated."""
        x = curr + 0.1 * curr_pos
        values = to_autocast_dtype(memory)  # cast once, not in every layer's value projection
        for index, layer in enumerate(self.layers):
            layer_keys = None if keys is None else keys[index]
            x = layer(x, memory, memory_pos, grid_hw, num_obj_ptr_tokens, keys=layer_keys, values=values)
        return self.norm(x)
