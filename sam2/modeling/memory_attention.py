"""Memory attention: current-frame features attend to themselves and to the memory bank."""

import math
from dataclasses import dataclass
from typing import Dict, Hashable, List, Optional, Sequence, Tuple

import torch
from torch import nn

from .attention import RoPEAttention
from .common import Linear, activation_by_name, autocast_dtype, linear_activation, parameter_state, to_autocast_dtype
from .memory_selection import FrameKeys, MemoryEntry


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

    def feature_keys(self, tokens: torch.Tensor, grid_hw: Tuple[int, int]) -> torch.Tensor:
        """(1, HW, C_mem) memory features of one stored frame -> (HW, C) rotated cross-attention
        key projection without bias."""
        tokens = tokens.to(torch.promote_types(tokens.dtype, torch.float32))
        return self.cross_attn_image.rotated_projection(tokens, "k_proj", grid_hw, bias=False)[0]

    def encoding_keys(self, encoding: torch.Tensor, grid_hw: Tuple[int, int]) -> torch.Tensor:
        """(B, HW, C_mem) encodings of grid tokens -> (B, HW, C) rotated key projection with bias."""
        return self.cross_attn_image.rotated_projection(encoding, "k_proj", grid_hw)

    def pointer_keys(self, pointers: torch.Tensor) -> torch.Tensor:
        """(B, P, C_mem) pointer tokens plus their encodings -> (B, P, C) keys (not rotated)."""
        return self.cross_attn_image.k_proj(pointers)

    def key_state(self) -> Tuple:
        """What identifies the current key projection weight (see ``parameter_state``)."""
        return parameter_state(self.cross_attn_image.k_proj.weight)

    def encoding_state(self) -> Tuple:
        """What identifies the current key projection weight and bias."""
        return self.key_state() + parameter_state(self.cross_attn_image.k_proj.bias)

    def forward(
        self, x: torch.Tensor, memory: torch.Tensor, grid_hw: Tuple[int, int], keys: torch.Tensor
    ) -> torch.Tensor:
        """x (B, HW, C); memory (B, M, C_mem) in the compute dtype; keys (B, M, C) its rotated
        cross-attention keys (see ``MemoryAttention.cross_attention_keys``) -> (B, HW, C)."""
        normed = to_autocast_dtype(self.norm1(x))
        x = x + self.self_attn(normed, normed, normed, grid_hw)
        normed = to_autocast_dtype(self.norm2(x))
        x = x + self.cross_attn_image.attend_to_keys(normed, keys, memory, grid_hw)
        hidden = linear_activation(to_autocast_dtype(self.norm3(x)), self.linear1, self.activation)
        return x + self.linear2(hidden)


@dataclass
class StoredMemories:
    """Where the spatial tokens of a step's memory come from: ``frames[b][i]`` is the stored
    frame whose features are the i-th H*W tokens of object b; ``encodings[i]`` names the
    encodings (memory_pos) of those tokens: equal names, equal encodings, for every object."""

    frames: Sequence[Sequence[MemoryEntry]]
    encodings: Sequence[Hashable]
    encoding_state: Tuple = ()  # what identifies the values behind the names (parameter states)


class MemoryAttention(nn.Module):
    """A stack of memory attention layers with a final LayerNorm.

    It owns the caches of its cross-attention keys: a stored frame's feature keys are kept on
    its entry (``MemoryEntry.attention_keys``), the keys of named encodings here.
    """

    def __init__(self, d_model: int, layers: nn.ModuleList) -> None:
        super().__init__()
        self.d_model = d_model
        self.layers = layers
        self.norm = nn.LayerNorm(d_model)
        # (layer, encoding name, grid, device, dtype) -> (projection state, (1, HW, C) keys)
        self._encoding_key_cache: Dict[Tuple, Tuple[Tuple, torch.Tensor]] = {}

    def forward(
        self, curr: torch.Tensor, curr_pos: torch.Tensor, memory: torch.Tensor, memory_pos: torch.Tensor,
        grid_hw: Optional[Tuple[int, int]] = None, num_obj_ptr_tokens: int = 0,
        stored: Optional[StoredMemories] = None,
    ) -> torch.Tensor:
        """curr/curr_pos (B, HW, C): current features and their encoding; memory/memory_pos
        (B, M, C_mem), whose last ``num_obj_ptr_tokens`` tokens are object pointers -> (B, HW, C).
        ``grid_hw`` defaults to a square grid of HW tokens; ``stored`` lets keys come from caches."""
        if grid_hw is None:
            side = math.isqrt(curr.shape[1])
            grid_hw = (side, side)
        keys = self.cross_attention_keys(memory, memory_pos, grid_hw, num_obj_ptr_tokens, stored)
        x = curr + 0.1 * curr_pos
        values = to_autocast_dtype(memory)  # cast once, not in every layer's value projection
        for layer, layer_keys in zip(self.layers, keys):
            x = layer(x, values, grid_hw, layer_keys)
        return self.norm(x)

    def cross_attention_keys(
        self, memory: torch.Tensor, memory_pos: torch.Tensor, grid_hw: Tuple[int, int], num_obj_ptr_tokens: int = 0,
        stored: Optional[StoredMemories] = None,
    ) -> List[torch.Tensor]:
        """Each layer's rotated cross-attention keys (B, M, C) of memory + memory_pos (B, M, C_mem).

        A grid token's key is the rotated projection of its feature (no bias) plus that of its
        encoding (with bias); pointer tokens are projected whole. With ``stored``, feature keys
        are kept on the stored frames and those of named encodings here: a step that attends
        to frames seen before only adds the two.
        """
        grid_tokens = grid_hw[0] * grid_hw[1]
        spatial_tokens = memory.shape[1] - num_obj_ptr_tokens
        spans = [slice(start, start + grid_tokens) for start in range(0, spatial_tokens, grid_tokens)]
        dtype = autocast_dtype(memory.device.type, memory.dtype)
        feature_keys = self._feature_keys(memory, spans, grid_hw, dtype, stored)
        keys = []
        for index, layer in enumerate(self.layers):
            out = memory.new_empty(*memory.shape[:2], layer.cross_attn_image.internal_dim, dtype=dtype)
            for position, span in enumerate(spans):
                encoding_keys = self._encoding_keys(index, memory_pos[:, span], grid_hw, stored, position)
                for row in range(len(memory)):
                    shared = encoding_keys[row if len(encoding_keys) > 1 else 0]
                    torch.add(feature_keys[row][position][index], shared, out=out[row, span])
            if num_obj_ptr_tokens:
                pointers = slice(memory.shape[1] - num_obj_ptr_tokens, None)
                out[:, pointers] = layer.pointer_keys(memory[:, pointers] + memory_pos[:, pointers])
            keys.append(out)
        return keys

    def _feature_keys(
        self, memory: torch.Tensor, spans: Sequence[slice], grid_hw: Tuple[int, int], dtype: torch.dtype,
        stored: Optional[StoredMemories],
    ) -> List[List[List[torch.Tensor]]]:
        """[object][span][layer] -> (HW, C) feature keys: of the stored frames when given (each
        read at most once), else of memory's own tokens."""
        if stored is not None:
            device = memory.device
            return [[self._stored_frame_keys(entry, grid_hw, dtype, device) for entry in row] for row in stored.frames]
        return [
            [[layer.feature_keys(memory[row : row + 1, span], grid_hw) for layer in self.layers] for span in spans]
            for row in range(len(memory))
        ]

    def _stored_frame_keys(
        self, entry: MemoryEntry, grid_hw: Tuple[int, int], dtype: torch.dtype, device: torch.device
    ) -> List[torch.Tensor]:
        """Per layer, the (HW, C) feature keys of a stored frame; kept on it while it is resident."""
        state = (grid_hw, dtype, *(layer.key_state() for layer in self.layers))
        cached = entry.attention_keys
        if cached is not None and cached.state == state:
            return cached.per_layer
        tokens = entry.maskmem_features.to(device).flatten(2).transpose(1, 2)
        per_layer = [layer.feature_keys(tokens, grid_hw) for layer in self.layers]
        if entry.is_resident and not torch.is_grad_enabled():
            entry.attention_keys = FrameKeys(state, per_layer)
        return per_layer

    def _encoding_keys(
        self, index: int, encoding: torch.Tensor, grid_hw: Tuple[int, int], stored: Optional[StoredMemories],
        position: int,
    ) -> torch.Tensor:
        """(B, HW, C) encoding keys of layer ``index`` for the grid at ``position``; kept when
        ``stored`` names its encodings."""
        layer = self.layers[index]
        if stored is None or torch.is_grad_enabled():
            return layer.encoding_keys(encoding, grid_hw)
        dtype = autocast_dtype(encoding.device.type, encoding.dtype)
        key = (index, stored.encodings[position], grid_hw, encoding.device, dtype)
        state = layer.encoding_state() + stored.encoding_state
        cached = self._encoding_key_cache.get(key)
        if cached is None or cached[0] != state:
            cached = self._encoding_key_cache[key] = (state, layer.encoding_keys(encoding, grid_hw))
        return cached[1]
