"""Unit checks of building blocks whose exact behaviour matters for parity."""

import math

import pytest
import torch

from sam2.modeling.mask_postprocessing import fill_holes_in_mask_scores, keep_highest_object
from sam2.modeling.hiera import max_pool_channels_last, merge_windows, split_windows
from sam2.modeling.mask_decoder import stability_scores
from sam2.modeling.memory_selection import closest_conditioning_frames, select_memories
from sam2.modeling.attention import RoPEAttention, RotaryLayout
from sam2.modeling import common
from sam2.modeling.common import ACTIVATIONS, FUSED_CPU_LINEAR, Linear, linear_activation
from sam2.modeling.position_encoding import AxialRotaryTable, temporal_sine_encoding


def test_window_split_and_merge_round_trip_with_padding():
    x = torch.randn(2, 10, 13, 5)
    windows, padded = split_windows(x, 4)
    assert windows.shape == (2 * 3 * 4, 4, 4, 5) and padded == (12, 16)
    torch.testing.assert_close(merge_windows(windows, 4, padded, (10, 13)), x)


def _complex_rotation(x: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """x (..., N, D) with channel pairs as complex numbers, times exp(i * angles (N, D/2))."""
    pairs = torch.view_as_complex(x.reshape(*x.shape[:-1], -1, 2).contiguous())
    return torch.view_as_real(pairs * torch.polar(torch.ones_like(angles), angles)).flatten(-2)


@pytest.mark.parametrize("shape,stride", [((2, 8, 6, 5), (2, 2)), ((1, 7, 9, 3), (2, 2)), ((3, 9, 8, 4), (3, 2))])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_channels_last_max_pool_matches_max_pool2d(shape, stride, dtype):
    x = torch.randn(shape, generator=torch.Generator().manual_seed(0)).to(dtype)
    x[0, 1, 1, 0] = float("nan")
    qkv_like = torch.stack([x, -x], dim=3)[..., 0, :]  # a strided view, as the queries are
    expected = torch.nn.MaxPool2d(stride, stride)(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
    pooled = max_pool_channels_last(qkv_like, stride)
    assert pooled.shape == expected.shape and pooled.dtype == dtype
    assert torch.equal(pooled.isnan(), expected.isnan()) and pooled.isnan().any()
    assert torch.equal(pooled.nan_to_num(), expected.nan_to_num())


def test_rotary_tables_rotate_columns_then_rows():
    cos, sin = AxialRotaryTable(8).tables(3, 4, torch.device("cpu"))
    angles = torch.atan2(sin, cos)
    # Token 5 sits at column 1, row 1: the first half rotates with the column, the second with the row.
    assert math.isclose(float(angles[5, 0]), 1.0, rel_tol=1e-6) and math.isclose(float(angles[5, 2]), 1.0, rel_tol=1e-6)
    assert float(angles[4, 0]) == 0.0 and math.isclose(float(angles[4, 2]), 1.0, rel_tol=1e-6)


@pytest.mark.parametrize("heads", [1, 2])
def test_rope_attention_rotates_queries_and_grid_keys_but_not_pointer_tokens(heads):
    torch.manual_seed(0)
    attention = RoPEAttention(16, heads, kv_in_dim=8).eval()
    grid, frames, pointers = (3, 4), 2, 5
    q = torch.randn(1, 12, 16)
    memory = torch.randn(3, frames * 12 + pointers, 8)  # 3 objects share the queries
    cos, sin = attention.rotary.tables(*grid, torch.device("cpu"))
    angles = torch.atan2(sin, cos)

    def split(x):
        return x.reshape(x.shape[0], x.shape[1], heads, -1).transpose(1, 2)

    expected_q = _complex_rotation(split(attention.q_proj(q)), angles)
    keys = split(attention.k_proj(memory))
    rotated_keys = _complex_rotation(keys[:, :, :-pointers].unflatten(2, (frames, 12)), angles).flatten(2, 3)
    expected_k = torch.cat([rotated_keys, keys[:, :, -pointers:]], dim=2)
    expected = torch.nn.functional.scaled_dot_product_attention(
        expected_q.expand(3, -1, -1, -1), expected_k, split(attention.v_proj(memory))
    )
    expected = attention.out_proj(expected.transpose(1, 2).flatten(2))
    with torch.no_grad():
        out = attention(q, memory, memory, grid, num_k_exclude_rope=pointers)
    torch.testing.assert_close(out, expected.detach(), atol=1e-5, rtol=1e-4)


def test_temporal_encoding_has_sines_then_cosines():
    encoding = temporal_sine_encoding(torch.tensor([0.0, 0.5]), 8)
    torch.testing.assert_close(encoding[0], torch.tensor([0, 0, 0, 0, 1, 1, 1, 1.0]))
    assert encoding.shape == (2, 8)


def test_stability_score_of_a_confident_mask_is_one():
    logits = torch.full((1, 1, 4, 4), -10.0)
    logits[..., :2, :] = 10.0
    assert float(stability_scores(logits, 0.05)) == 1.0
    logits[..., 2, :] = 0.01
    assert float(stability_scores(logits, 0.05)) == pytest.approx(8 / 12)


def test_fill_holes_fills_only_small_background_regions():
    logits = torch.full((1, 1, 20, 20), 3.0)
    logits[0, 0, 5, 5] = -2.0  # 1-pixel hole
    logits[0, 0, 10:20, 10:20] = -2.0  # large background region
    filled = fill_holes_in_mask_scores(logits, 8)
    assert float(filled[0, 0, 5, 5]) == pytest.approx(0.1)
    assert bool((filled[0, 0, 10:, 10:] == -2.0).all())


def test_keep_highest_object_resolves_overlaps():
    logits = torch.tensor([[[[2.0, -1.0]]], [[[1.0, 3.0]]]])
    kept = keep_highest_object(logits)
    assert kept[:, 0, 0, 0].tolist() == [2.0, -10.0] and kept[:, 0, 0, 1].tolist() == [-10.0, 3.0]


def test_conditioning_frame_selection_prefers_neighbours():
    frames = {t: t for t in (0, 10, 20, 30, 40)}
    kept, dropped = closest_conditioning_frames(22, frames, 3)
    assert set(kept) == {20, 30, 10} and set(dropped) == {0, 40}
    assert closest_conditioning_frames(22, frames, -1) == (frames, {})


class Entry:
    def __init__(self, t):
        self.maskmem_features = t
        self.obj_ptr = t


def test_memory_selection_forward_and_reverse():
    cond = {0: Entry(0)}
    recent = {t: Entry(t) for t in range(1, 9)}
    forward = select_memories(9, cond, recent, num_frames=20, num_maskmem=7, max_obj_ptrs=16)
    assert [(slot, e.obj_ptr) for slot, e in forward.spatial] == [(0, 0), (1, 3), (2, 4), (3, 5), (4, 6), (5, 7), (6, 8)]
    assert [(d, e.obj_ptr) for d, e in forward.pointers][:3] == [(9, 0), (1, 8), (2, 7)]
    cond_late = {12: Entry(12)}
    backward = select_memories(10, cond_late, {11: Entry(11)}, num_frames=20, num_maskmem=7, max_obj_ptrs=16, reverse=True)
    assert [(slot, e.obj_ptr) for slot, e in backward.spatial] == [(0, 12), (6, 11)]
    assert [(d, e.obj_ptr) for d, e in backward.pointers] == [(2, 12), (1, 11)]
    # A conditioning frame ahead of the tracking direction gives memory but no pointer.
    ahead = select_memories(5, {8: Entry(8)}, {}, num_frames=20, num_maskmem=7, max_obj_ptrs=16)
    assert [e.obj_ptr for _, e in ahead.spatial] == [8] and ahead.pointers == []


def test_high_res_features_fold_the_decoder_projection_into_the_neck(tiny_predictor):
    image = torch.randn(1, 3, tiny_predictor.image_size, tiny_predictor.image_size)
    decoder = tiny_predictor.sam_mask_decoder
    with torch.no_grad():
        plain = tiny_predictor.image_encoder(image)
        folded = tiny_predictor.forward_image(image)
    for level, projection in enumerate((decoder.conv_s0, decoder.conv_s1)):
        with torch.no_grad():
            expected = projection(plain.backbone_fpn[level])
        torch.testing.assert_close(folded.backbone_fpn[level], expected, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(folded.backbone_fpn[2], plain.backbone_fpn[2])
    assert folded.vision_pos_enc[0].shape[1] == plain.backbone_fpn[0].shape[1]


def test_fused_linear_is_off_where_onednn_has_no_bf16_kernels(monkeypatch):
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)
    assert common._fused_cpu_linear() is None


@pytest.mark.skipif(FUSED_CPU_LINEAR is None, reason="oneDNN computes no bf16 on this CPU (AVX2 only)")
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_linear_activation_under_bf16_autocast_matches_the_plain_ops(activation):
    torch.manual_seed(0)
    linear = torch.nn.Linear(32, 64)
    x = torch.randn(2, 10, 32)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        fused = linear_activation(x, linear, activation)
        plain = ACTIVATIONS[activation](linear(x))
    assert fused.dtype == plain.dtype == torch.bfloat16
    torch.testing.assert_close(fused.float(), plain.float(), atol=0.05, rtol=0.02)
    with torch.no_grad():
        assert torch.equal(linear_activation(x, linear, activation), ACTIVATIONS[activation](linear(x)))


def test_linear_keeps_nn_linear_keys_and_follows_weight_changes_in_bf16():
    torch.manual_seed(0)
    linear, reference = Linear(32, 64), torch.nn.Linear(32, 64)
    assert list(linear.state_dict()) == list(reference.state_dict())
    reference.load_state_dict(linear.state_dict())
    x = torch.randn(3, 5, 32)
    for round_ in range(2):
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
            ours, plain = linear(x), reference(x)
        assert ours.dtype == torch.bfloat16
        torch.testing.assert_close(ours.float(), plain.float(), atol=0.05, rtol=0.02)
        # New weights must not be served from the cached bfloat16 copy.
        with torch.no_grad():
            linear.weight.mul_(-2.0)
            reference.weight.mul_(-2.0)
    with torch.no_grad():
        torch.testing.assert_close(linear(x), reference(x))


def test_linear_under_autograd_keeps_gradients():
    linear = Linear(8, 4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        linear(torch.randn(2, 8)).float().sum().backward()
    assert linear.weight.grad is not None and linear.weight.grad.abs().sum() > 0


def test_rotated_projection_follows_weight_changes(tiny_predictor):
    attention = tiny_predictor.memory_attention.layers[0].cross_attn_image
    tokens = torch.randn(1, 2 * 4 * 4, attention.k_proj.in_features)
    saved = attention.k_proj.weight.detach().clone()
    try:
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
            before = attention.rotated_projection(tokens, "k_proj", RotaryLayout((4, 4)))
            with torch.no_grad():
                attention.k_proj.weight.mul_(3.0)
            after = attention.rotated_projection(tokens, "k_proj", RotaryLayout((4, 4)))
        assert not torch.allclose(before.float(), after.float())
    finally:
        with torch.no_grad():
            attention.k_proj.weight.copy_(saved)


def test_cached_hiera_position_embedding_follows_new_weights(tiny_predictor):
    trunk = tiny_predictor.image_encoder.trunk
    image = torch.randn(1, 3, tiny_predictor.image_size, tiny_predictor.image_size)
    saved = trunk.pos_embed.detach().clone()
    try:
        with torch.no_grad():
            before = trunk(image)[0]
            trunk.pos_embed.add_(1.0)
            after = trunk(image)[0]
            trunk.pos_embed.copy_(saved)
            again = trunk(image)[0]
        assert not torch.allclose(before, after)
        torch.testing.assert_close(before, again)
    finally:
        with torch.no_grad():
            trunk.pos_embed.copy_(saved)
