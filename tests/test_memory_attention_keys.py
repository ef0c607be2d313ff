"""Memory attention's cross-attention keys: one computation for plain calls and tracking
steps, with the tracking step's keys cached on stored frames and per named encoding."""

from typing import List

import pytest
import torch

from sam2.modeling.attention import RotaryLayout
from sam2.modeling.memory_attention import MemoryAttention, StoredMemories
from sam2.session.frame_outputs import FrameOutput

GRID = (4, 4)
LAYOUT = RotaryLayout(GRID)
NUM_POINTERS = 4


def stored_frame(mem_dim: int) -> FrameOutput:
    """A resident stored frame with random bfloat16 memory features (1, C_mem, 4, 4)."""
    features = torch.randn(1, mem_dim, *GRID).to(torch.bfloat16)
    return FrameOutput(torch.zeros(1, 1, 16, 16), torch.zeros(1, 4 * mem_dim), torch.zeros(1, 1), features)


def memory_of(frames: List[List[FrameOutput]], pointers: torch.Tensor) -> torch.Tensor:
    """(B, M, C_mem) float32 tokens: each object's frames' features, then its pointer tokens."""
    rows = [torch.cat([entry.maskmem_features.flatten(2).transpose(1, 2) for entry in row], dim=1) for row in frames]
    return torch.cat([torch.stack(rows).squeeze(1).float(), pointers], dim=1)


@pytest.fixture()
def step(tiny_predictor):
    """Memory attention, two objects' stored frames (two each), memory and its encodings."""
    torch.manual_seed(1)
    attention: MemoryAttention = tiny_predictor.memory_attention
    mem_dim = tiny_predictor.mem_dim
    frames = [[stored_frame(mem_dim) for _ in range(2)] for _ in range(2)]
    memory = memory_of(frames, torch.randn(2, NUM_POINTERS, mem_dim))
    memory_pos = torch.randn(1, memory.shape[1], mem_dim)
    name = object()  # encodings of this test only: none of their keys are cached yet
    stored = StoredMemories(frames, encodings=[(name, 0), (name, 1)])
    return attention, frames, memory, memory_pos, stored


def count_key_projections(monkeypatch, attention: MemoryAttention) -> List[int]:
    """A one-item list counting rotated key projections in memory attention's cross-attention."""
    calls = [0]
    for layer in attention.layers:
        original = layer.cross_attn_image.rotated_projection

        def counted(x, name, *args, _original=original, **kwargs):
            calls[0] += name == "k_proj"
            return _original(x, name, *args, **kwargs)

        monkeypatch.setattr(layer.cross_attn_image, "rotated_projection", counted)
    return calls


@pytest.mark.parametrize("autocast", [False, True])
def test_tracking_keys_equal_plain_keys(step, autocast):
    attention, _, memory, memory_pos, stored = step
    plain_pos = memory_pos.expand(len(memory), -1, -1)
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        plain = attention.cross_attention_keys(memory, plain_pos, LAYOUT, NUM_POINTERS)
        tracked = attention.cross_attention_keys(memory, memory_pos, LAYOUT, NUM_POINTERS, stored)
    assert len(plain) == len(tracked) == len(attention.layers)
    for plain_keys, tracked_keys in zip(plain, tracked):
        assert torch.equal(plain_keys, tracked_keys)


def test_official_style_call_matches_tracking_call(step):
    """The official keyword call (square grid inferred) fuses like a tracking step."""
    attention, _, memory, memory_pos, stored = step
    curr, curr_pos = torch.randn(2, 1, 16, attention.d_model)
    with torch.inference_mode():
        plain = attention(
            curr=curr, curr_pos=curr_pos, memory=memory, memory_pos=memory_pos.expand(2, -1, -1),
            num_obj_ptr_tokens=NUM_POINTERS,
        )
        tracked = attention(curr, curr_pos, memory, memory_pos, GRID, NUM_POINTERS, stored=stored)
    assert plain.shape == (2, 16, attention.d_model)
    assert torch.equal(plain, tracked)


def test_stored_frame_keys_are_computed_once(step, monkeypatch):
    attention, frames, memory, memory_pos, stored = step
    calls = count_key_projections(monkeypatch, attention)
    layers = len(attention.layers)
    with torch.inference_mode():
        first = attention.cross_attention_keys(memory, memory_pos, LAYOUT, NUM_POINTERS, stored)
        assert calls[0] == layers * (4 + 2)  # four stored frames and two encodings, per layer
        assert all(entry.attention_keys is not None for row in frames for entry in row)
        again = attention.cross_attention_keys(memory, memory_pos, LAYOUT, NUM_POINTERS, stored)
        assert calls[0] == layers * 6  # nothing recomputed
        frames[1][1].maskmem_features = torch.randn_like(frames[1][1].maskmem_features)
        changed = memory_of(frames, memory[:, -NUM_POINTERS:])
        attention.cross_attention_keys(changed, memory_pos, LAYOUT, NUM_POINTERS, stored)
        assert calls[0] == layers * 7  # only the changed frame
    for first_keys, again_keys in zip(first, again):
        assert torch.equal(first_keys, again_keys)


def test_plain_calls_and_autograd_leave_no_cache(step):
    attention, frames, memory, memory_pos, stored = step
    attention.cross_attention_keys(memory, memory_pos, LAYOUT, NUM_POINTERS, stored)
    with torch.inference_mode():
        attention.cross_attention_keys(memory, memory_pos, LAYOUT, NUM_POINTERS)
    assert all(entry.attention_keys is None for row in frames for entry in row)


@torch.no_grad()
def test_key_weights_scale_each_tokens_key_input(step):
    """SAM2Long's key weights: a factor per token on memory + encoding before the projection;
    all ones give the cached keys, and the output moves with the factors."""
    attention, _, memory, memory_pos, stored = step
    spatial = memory.shape[1] - NUM_POINTERS
    plain = attention.cross_attention_keys(memory, memory_pos, LAYOUT, NUM_POINTERS, stored)
    ones = attention.scaled_keys(memory, memory_pos, LAYOUT, NUM_POINTERS, torch.ones(memory.shape[:2]))
    for cached, scaled in zip(plain, ones):
        assert torch.allclose(cached, scaled, atol=1e-5)
    scale = torch.linspace(0.95, 1.05, memory.shape[1]).repeat(2, 1)
    keys = attention.scaled_keys(memory, memory_pos, LAYOUT, NUM_POINTERS, scale)
    for layer, layer_keys in zip(attention.layers, keys):
        projection = layer.cross_attn_image.rotated_projection
        expected = projection(scale[..., None] * (memory + memory_pos), "k_proj", LAYOUT, num_unrotated=NUM_POINTERS)
        assert torch.allclose(layer_keys, expected)
        pointer_inputs = scale[:, spatial:, None] * (memory + memory_pos)[:, spatial:]
        assert torch.allclose(layer_keys[:, spatial:], layer.cross_attn_image.k_proj(pointer_inputs), atol=1e-6)
    curr = torch.randn(2, GRID[0] * GRID[1], attention.d_model)
    unweighted = attention(curr, torch.zeros_like(curr), memory, memory_pos, GRID, NUM_POINTERS)
    weighted = attention(curr, torch.zeros_like(curr), memory, memory_pos, GRID, NUM_POINTERS, key_scale=scale)
    assert torch.allclose(unweighted, attention(curr, torch.zeros_like(curr), memory, memory_pos, GRID, NUM_POINTERS,
                                                key_scale=torch.ones(memory.shape[:2])), atol=1e-5)
    assert not torch.allclose(unweighted, weighted, atol=1e-4)
