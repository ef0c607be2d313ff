"""The precision policy picks bf16 only where the hardware has it, and bf16 masks stay close to fp32."""

import numpy as np
import torch

from conftest import synthetic_frames
from sam2.runtime import precision


def test_cpu_without_bf16_instructions_stays_in_fp32(monkeypatch):
    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset({"avx2", "fma"}))
    assert precision.fastest_safe_dtype("cpu") is None
    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset({"avx512f", "amx_bf16"}))
    assert precision.fastest_safe_dtype("cpu") == torch.bfloat16
    assert precision.fastest_safe_dtype("meta") is None


def test_gpus_get_bf16_where_they_compute_it_else_fp16_and_mps_stays_in_fp32(monkeypatch):
    capability = {"value": (8, 0)}
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability["value"])
    assert precision.fastest_safe_dtype("cuda") == torch.bfloat16
    capability["value"] = (7, 5)  # e.g. a T4
    assert precision.fastest_safe_dtype("cuda:0") == torch.float16
    assert precision.fastest_safe_dtype("mps") is None
    assert [precision.dtype_name(d) for d in (torch.bfloat16, torch.float16, None)] == ["bfloat16", "float16", "float32"]


def test_autocast_context_for_fp32_is_a_no_op():
    with precision.autocast_context("cpu", None):
        assert not torch.is_autocast_enabled("cpu")
    with precision.autocast_context("cpu", torch.bfloat16):
        assert torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16


def test_tracking_under_bf16_autocast_agrees_with_fp32(tiny_predictor):
    frames = np.stack(synthetic_frames(6))

    def track():
        state = tiny_predictor.init_state(video_path=frames)
        tiny_predictor.add_new_points_or_box(state, 0, 1, points=[[20, 20]], labels=[1])
        return [m for _, _, m in tiny_predictor.propagate_in_video(state)]

    reference = track()
    with precision.autocast_context("cpu", torch.bfloat16):
        reduced = track()
    for full, half in zip(reference, reduced):
        assert half.dtype == torch.float32
        a, b = full > 0, half > 0
        assert (a & b).sum() / (a | b).sum() >= 0.9
