"""Memory attention: current-frame features attend to themselves and to the memory bank."""

import math
from dataclasses import dataclass
from typing import Dict, Hashable, List, Optional, Sequence, Tuple

import torch
from torch import nn

from .attention import RoPEAttention, RotaryLayout
from .common import Linear, activation_by_name, autocast_dtype, linear_activation, parameter_state, to_autocast_dtype
from .memory_pooling import LandmarkPooling
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

    def feature_keys(self, tokens: torch.Tensor, layout: RotaryLayout) -> torch.Tensor:
        """(1, N, C_mem) memory tokens of one stored frame -> (N, C) cross-attention key
        projection without bias, rotated as ``layout`` says."""
        tokens = tokens.to(torch.promote_types(tokens.dtype, torch.float32))
        return self.cross_attn_image.rotated_projection(tokens, "k_proj", layout, bias=False)[0]

    def encoding_keys(self, encoding: torch.Tensor, layout: RotaryLayout) -> torch.Tensor:
        """(B, N, C_mem) encodings of a frame's tokens -> (B, N, C) rotated key projection with bias."""
        return self.cross_attn_image.rotated_projection(encoding, "k_proj", layout)

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
        self, x: torch.Tensor, memory: torch.Tensor, grid_hw: Tuple[int, int], keys: torch.Tensor,
        key_bias: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        """x (B, HW, C); memory (B, M, C_mem) in the compute dtype; keys (B, M, C) its rotated
        cross-attention keys (see ``MemoryAttention.cross_attention_keys``); key_bias (M,) added
        to the attention scores of each key -> (B, HW, C)."""
        normed = to_autocast_dtype(self.norm1(x))
        x = x + self.self_attn(normed, normed, normed, grid_hw)
        normed = to_autocast_dtype(self.norm2(x))
        x = x + self.cross_attn_image.attend_to_keys(normed, keys, memory, grid_hw, key_bias)
        hidden = linear_activation(to_autocast_dtype(self.norm3(x)), self.linear1, self.activation)
        return x + self.linear2(hidden)


@dataclass
class StoredMemories:
    """Where the spatial tokens of a step's memory come from: ``frames[b][i]`` is the stored
    frame whose memory tokens are the i-th group of object b's tokens; ``encodings[i]`` names
    the encodings (memory_pos) of those tokens: equal names, equal encodings, for every object."""

    frames: Sequence[Sequence[MemoryEntry]]
    encodings: Sequence[Hashable]
    encoding_state: Tuple = ()  # what identifies the values behind the names (parameter states)


class MemoryAttention(nn.Module):
    """A stack of memory attention layers with a final LayerNorm.

    It owns the caches of its cross-attention keys: a stored frame's feature keys are kept on
    its entry (``MemoryEntry.attention_keys``), the keys of named encodings here. With
    ``pooling`` (EfficientTAM's efficient variants), several frames' keys and values are
    averaged into landmarks before the layers attend to them.
    """

    def __init__(self, d_model: int, layers: nn.ModuleList, pooling: Optional[LandmarkPooling] = None) -> None:
        super().__init__()
        self.d_model = d_model
        self.layers = layers
        self.norm = nn.LayerNorm(d_model)
        self.pooling = pooling
        # (layer, encoding name, layout, device, dtype) -> (projection state, (1, N, C) keys)
        self._encoding_key_cache: Dict[Tuple, Tuple[Tuple, torch.Tensor]] = {}

    def forward(
        self, curr: torch.Tensor, curr_pos: torch.Tensor, memory: torch.Tensor, memory_pos: torch.Tensor,
        grid_hw: Optional[Tuple[int, int]] = None, num_obj_ptr_tokens: int = 0,
        stored: Optional[StoredMemories] = None, memory_layout: Optional[RotaryLayout] = None,
        key_scale: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        """curr/curr_pos (B, HW, C): current features and their encoding; memory/memory_pos
        (B, M, C_mem), whose last ``num_obj_ptr_tokens`` tokens are object pointers -> (B, HW, C).
        ``grid_hw`` defaults to a square grid of HW tokens; ``memory_layout`` (how each stored
        frame's tokens are rotated) to that grid; ``stored`` lets keys come from caches;
        ``key_scale`` (B, M) multiplies each token's key input (memory + memory_pos)."""
        if grid_hw is None:
            side = math.isqrt(curr.shape[1])
            grid_hw = (side, side)
        layout = RotaryLayout(grid_hw) if memory_layout is None else memory_layout
        if key_scale is None:
            keys = self.cross_attention_keys(memory, memory_pos, layout, num_obj_ptr_tokens, stored)
        else:
            keys = self.scaled_keys(memory, memory_pos, layout, num_obj_ptr_tokens, key_scale)
        values = to_autocast_dtype(memory)  # cast once, not in every layer's value projection
        key_bias = None
        if self.pooling is not None and self.pooling.applies(memory.shape[1] - num_obj_ptr_tokens, grid_hw):
            keys = [self.pooling.pooled_keys(layer_keys, layout, num_obj_ptr_tokens) for layer_keys in keys]
            values = self.pooling.pooled(values, layout, num_obj_ptr_tokens)
            key_bias = self.pooling.score_bias(values, num_obj_ptr_tokens)
        x = curr + 0.1 * curr_pos
        for layer, layer_keys in zip(self.layers, keys):
            x = layer(x, values, grid_hw, layer_keys, key_bias)
        return self.norm(x)

    def cross_attention_keys(
        self, memory: torch.Tensor, memory_pos: torch.Tensor, layout: RotaryLayout, num_obj_ptr_tokens: int = 0,
        stored: Optional[StoredMemories] = None,
    ) -> List[torch.Tensor]:
        """Each layer's rotated cross-attention keys (B, M, C) of memory + memory_pos (B, M, C_mem).

        The spatial tokens are groups of ``layout.group_tokens`` (one per stored frame). Their
        key is the rotated projection of the token (no bias) plus that of its encoding (with
        bias); pointer tokens are projected whole. With ``stored``, feature keys are kept on the
        stored frames and those of named encodings here: a step that attends to frames seen
        before only adds the two.
        """
        group = layout.group_tokens
        spatial_tokens = memory.shape[1] - num_obj_ptr_tokens
        spans = [slice(start, start + group) for start in range(0, spatial_tokens, group)]
        dtype = autocast_dtype(memory.device.type, memory.dtype)
        feature_keys = self._feature_keys(memory, spans, layout, dtype, stored)
        keys = []
        for index, layer in enumerate(self.layers):
            out = memory.new_empty(*memory.shape[:2], layer.cross_attn_image.internal_dim, dtype=dtype)
            for position, span in enumerate(spans):
                encoding_keys = self._encoding_keys(index, memory_pos[:, span], layout, stored, position)
                for row in range(len(memory)):
                    shared = encoding_keys[row if len(encoding_keys) > 1 else 0]
                    torch.add(feature_keys[row][position][index], shared, out=out[row, span])
            if num_obj_ptr_tokens:
                pointers = slice(memory.shape[1] - num_obj_ptr_tokens, None)
                out[:, pointers] = layer.pointer_keys(memory[:, pointers] + memory_pos[:, pointers])
            keys.append(out)
        return keys

    def scaled_keys(
        self, memory: torch.Tensor, memory_pos: torch.Tensor, layout: RotaryLayout, num_obj_ptr_tokens: int,
        key_scale: torch.Tensor,
    ) -> List[torch.Tensor]:
        """Each layer's rotated keys (B, M, C) of ``key_scale`` (B, M) times memory + memory_pos
        (B, M, C_mem), projected whole (no cache: the factors change from step to step)."""
        dtype = autocast_dtype(memory.device.type, memory.dtype)
        inputs = key_scale[..., None].to(memory.dtype) * (memory + memory_pos)
        return [
            layer.cross_attn_image.rotated_projection(inputs, "k_proj", layout, num_unrotated=num_obj_ptr_tokens).to(dtype)
            for layer in self.layers
        ]

    def _feature_keys(
        self, memory: torch.Tensor, spans: Sequence[slice], layout: RotaryLayout, dtype: torch.dtype,
        stored: Optional[StoredMemories],
    ) -> List[List[List[torch.Tensor]]]:
        """[object][span][layer] -> (N, C) feature keys: of the stored frames when given (each
        read at most once), else of memory's own tokens."""
        if stored is not None:
            device = memory.device
            return [[self._stored_frame_keys(entry, layout, dtype, device) for entry in row] for row in stored.frames]
        return [
            [[layer.feature_keys(memory[row : row + 1, span], layout) for layer in self.layers] for span in spans]
            for row in range(len(memory))
        ]

    def _stored_frame_keys(
        self, entry: MemoryEntry, layout: RotaryLayout, dtype: torch.dtype, device: torch.device
    ) -> List[torch.Tensor]:
        """Per layer, the (N, C) feature keys of a stored frame; kept on it while it is resident."""
        state = (layout, dtype, *(layer.key_state() for layer in self.layers))
        cached = entry.attention_keys
        if cached is not None and cached.state == state:
            return cached.per_layer
        tokens = memory_tokens(entry.maskmem_features.to(device))
        per_layer = [layer.feature_keys(tokens, layout) for layer in self.layers]
        if entry.is_resident and not torch.is_grad_enabled():
            entry.attention_keys = FrameKeys(state, per_layer)
        return per_layer

    def _encoding_keys(
        self, index: int, encoding: torch.Tensor, layout: RotaryLayout, stored: Optional[StoredMemories],
        position: int,
    ) -> torch.Tensor:
        """(B, N, C) encoding keys of layer ``index`` for the frame at ``position``; kept when
        ``stored`` names its encodings."""
        layer = self.layers[index]
        if stored is None or torch.is_grad_enabled():
            return layer.encoding_keys(encoding, layout)
        dtype = autocast_dtype(encoding.device.type, encoding.dtype)
        key = (index, stored.encodings[position], layout, encoding.device, dtype)
        state = layer.encoding_state() + stored.encoding_state
        cached = self._encoding_key_cache.get(key)
        if cached is None or cached[0] != state:
            cached = self._encoding_key_cache[key] = (state, layer.encoding_keys(encoding, layout))
        return cached[1]


def memory_tokens(features: torch.Tensor) -> torch.Tensor:
    """Stored memory features as tokens: (B, C_mem, h, w) maps -> (B, hw, C_mem); EdgeTAM's
    (B, N, C_mem) latents stay as they are."""
    return features.flatten(2).transpose(1, 2) if features.dim() == 4 else features
