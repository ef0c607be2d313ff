"""Fast checks of the parity harness itself (no reference, no model, no video)."""

from __future__ import annotations

import numpy as np
import pytest

from oracle import reference_env
from oracle.compare import compare_recordings
from oracle.metrics import mask_iou


def _write(path, steps):
    arrays = {"meta_num_steps": np.array(len(steps)), "meta_total_seconds": np.array(1.0)}
    for i, step in enumerate(steps):
        prefix = f"step{i:03d}_"
        arrays[prefix + "label"] = np.array(step.get("label", "op"))
        arrays[prefix + "frame_idx"] = np.array(step.get("frame_idx", 0))
        arrays[prefix + "obj_ids"] = np.array(step.get("obj_ids", [1]), dtype=np.int64)
        arrays[prefix + "seconds"] = np.array(0.1 * (i + 1))
        for key in ("logits", "masks", "ious", "low_res", "mask_logits"):
            if key in step:
                arrays[prefix + key] = step[key]
    np.savez(path, **arrays)
    return path


def _logits(seed=0, shape=(2, 24, 32)):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32) * 3


def test_mask_iou_counts_two_empty_masks_as_equal():
    empty = np.zeros((4, 4), bool)
    full = np.ones((4, 4), bool)
    assert mask_iou(empty, empty) == 1.0
    assert mask_iou(empty, full) == 0.0
    half = full.copy()
    half[:2] = False
    assert mask_iou(half, full) == 0.5


def test_identical_recordings_compare_exactly(tmp_path):
    steps = [
        {"label": "click", "logits": _logits(1)},
        {"label": "image", "masks": _logits(2) > 0, "ious": np.array([0.5, 0.7], np.float32),
         "low_res": _logits(3)},
    ]
    a = _write(tmp_path / "a.npz", steps)
    b = _write(tmp_path / "b.npz", steps)
    report = compare_recordings(a, b)
    assert report.ok, report.summary()
    assert report.worst_iou.value == 1.0
    assert report.worst_mean_diff.value == 0.0
    assert report.masks_compared == 2 + 2 + 2


def test_small_logit_noise_passes_but_a_changed_mask_fails(tmp_path):
    base = _logits(4)
    noisy = base + np.float32(1e-4)
    a = _write(tmp_path / "a.npz", [{"logits": base}])
    assert compare_recordings(a, _write(tmp_path / "b.npz", [{"logits": noisy}])).ok

    changed = base.copy()
    changed[1, :12] = -np.abs(changed[1, :12])  # object 2 loses its top half
    report = compare_recordings(a, _write(tmp_path / "c.npz", [{"logits": changed}]))
    assert not report.ok
    assert report.worst_iou.value < 0.99
    assert "logits[1]" in report.worst_iou.where


def test_structure_differences_are_reported(tmp_path):
    a = _write(tmp_path / "a.npz", [{"label": "x", "obj_ids": [1, 2], "logits": _logits()}])
    b = _write(tmp_path / "b.npz", [{"label": "x", "obj_ids": [2, 1], "logits": _logits()},
                                    {"label": "extra", "logits": _logits()}])
    report = compare_recordings(a, b)
    assert not report.ok
    text = " ".join(report.structure_errors)
    assert "number of steps" in text and "obj_ids" in text


def test_nan_logits_fail(tmp_path):
    base = _logits(5)
    broken = base.copy()
    broken[0, 0, 0] = np.nan
    a = _write(tmp_path / "a.npz", [{"logits": base}])
    assert not compare_recordings(a, _write(tmp_path / "b.npz", [{"logits": broken}])).ok


def test_reference_dir_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(reference_env.ENV_VAR, str(tmp_path))
    assert reference_env.find_or_install_reference() is None
    assert str(tmp_path) in reference_env.last_failure_reason

    for rel in reference_env._REQUIRED:
        target = tmp_path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.suffix:
            target.write_text("")
        else:
            target.mkdir()
    found = reference_env.find_or_install_reference()
    assert found is not None and reference_env.last_failure_reason is None
    assert found.pythonpath.split(":") == [str(tmp_path / "pkg"), str(tmp_path / "deps")]
    assert found.subprocess_env({"PYTHONPATH": "/elsewhere"})["PYTHONPATH"] == found.pythonpath


def test_cache_without_install_permission_reports_why(tmp_path, monkeypatch):
    monkeypatch.delenv(reference_env.ENV_VAR, raising=False)
    assert reference_env.find_or_install_reference(tmp_path / "ref", install=False) is None
    assert "installing is disabled" in reference_env.last_failure_reason


def test_informative_checkpoint_tweaks():
    torch = pytest.importorskip("torch")
    from oracle import make_checkpoint as mc

    class Head(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = torch.nn.ModuleList(torch.nn.Linear(8, 8) for _ in range(3))

    model = torch.nn.Module()
    model.sam_mask_decoder = torch.nn.Module()
    model.sam_mask_decoder.pred_obj_score_head = Head()
    model.sam_mask_decoder.output_hypernetworks_mlps = torch.nn.ModuleList([Head(), Head()])
    model.norm = torch.nn.LayerNorm(8)
    model.register_buffer("steps", torch.zeros(3, dtype=torch.long))

    before = model.state_dict()
    after = mc.informative_state_dict(model, seed=0)
    assert list(after) == list(before)
    assert torch.equal(after["steps"], before["steps"])  # integer buffers untouched
    assert not torch.equal(after["norm.weight"], before["norm.weight"])
    assert (after["norm.weight"] - 1).abs().max() < 0.2  # ones stay ones plus noise
    bias = "sam_mask_decoder.pred_obj_score_head.layers.2.bias"
    assert torch.allclose(after[bias], before[bias] + mc.OBJ_SCORE_BIAS_LIFT)
    hyper = "sam_mask_decoder.output_hypernetworks_mlps.1.layers.2.weight"
    assert torch.allclose(after[hyper], before[hyper] * mc.HYPERNET_OUT_GAIN)
    again = mc.informative_state_dict(model, seed=0)
    assert all(torch.equal(after[k], again[k]) for k in after)  # deterministic
