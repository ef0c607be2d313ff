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
    assert found.subprocess_env({"PYTHONPATH": "/elsewhere"})["PYTHONPATH"] == reference_env.with_checkout_after(
        found.pythonpath)


def test_cache_without_install_permission_reports_why(tmp_path, monkeypatch):
    monkeypatch.delenv(reference_env.ENV_VAR, raising=False)
    assert reference_env.find_or_install_reference(tmp_path / "ref", install=False) is None
    assert "installing is disabled" in reference_env.last_failure_reason


def test_informative_checkpoint_tweaks():
    torch = pytest.importorskip("torch")
    from oracle import informative as mc

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


# --------------------------------------------------------------------------------------
# Several oracles, per-object cuts and comparisons, golden files, manifest weights
# --------------------------------------------------------------------------------------


def _fake_install(root, spec):
    for rel in spec.required:
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.suffix:
            target.write_text("")
        else:
            target.mkdir()


def test_each_oracle_has_its_own_folder_and_variable(tmp_path, monkeypatch):
    specs = reference_env.ORACLES
    assert set(specs) == {"reference", "edgetam", "efficienttam", "samurai", "dam4sam", "sam2long"}
    assert len({s.env_var for s in specs.values()}) == len({s.default_root for s in specs.values()}) == 6
    assert reference_env.find_or_install_reference.__defaults__ == (None, True)
    assert reference_env.ENV_VAR == "SAM2_REFERENCE_DIR" and reference_env.ReferenceEnv is reference_env.OracleEnv

    edgetam = reference_env.EDGETAM
    assert edgetam.source.requirement == "edgetam-dimos==1.0.1"
    monkeypatch.setenv(edgetam.env_var, str(tmp_path))
    assert reference_env.find_or_install("edgetam") is None
    assert edgetam.env_var in reference_env.last_failure_reason
    _fake_install(tmp_path, edgetam)
    found = reference_env.find_or_install("edgetam")
    assert found.name == "edgetam" and found.pkg_dir == tmp_path / "pkg"
    assert found.subprocess_env({})["PYTHONPATH"].split(":")[:2] == [
        str(tmp_path / "pkg"), str(tmp_path / "deps")]
    # The reference is looked up on its own: EdgeTAM's variable says nothing about it.
    monkeypatch.delenv(reference_env.ENV_VAR, raising=False)
    assert reference_env.find_or_install_reference(tmp_path / "none", install=False) is None


def test_git_source_extracts_one_folder_of_a_commit(tmp_path):
    import subprocess

    repo = tmp_path / "repo"
    (repo / "pkg_a" / "configs").mkdir(parents=True)
    (repo / "pkg_a" / "__init__.py").write_text("X = 1\n")
    (repo / "pkg_a" / "configs" / "c.yaml").write_text("a: 1\n")
    (repo / "elsewhere.txt").write_text("not wanted\n")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "c"], check=True)
    commit = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()

    source = reference_env.GitSource(repo / ".git", commit, "pkg_a")
    log = []
    assert source.install(tmp_path / "out", log), log
    assert (tmp_path / "out" / "pkg_a" / "configs" / "c.yaml").read_text() == "a: 1\n"
    assert not (tmp_path / "out" / "elsewhere.txt").exists()
    assert not reference_env.GitSource(repo / ".git", "0" * 40, "pkg_a").install(tmp_path / "bad", log)
    assert log and "git archive" in log[-1]


def test_efficienttam_builder_keeps_the_run_overrides():
    from types import SimpleNamespace

    from oracle.implementations import NO_COMPILE, keep_overrides

    composed = []
    builders = SimpleNamespace(compose=lambda config_name, overrides: composed.append(overrides))
    keep_overrides(builders, ["++model.image_size=512"])
    # What its video predictor builder passes on a machine without CUDA: its own list.
    builders.compose(config_name="c.yaml", overrides=["++model.compile_image_encoder=False", "++model.x=1"])
    builders.compose(config_name="c.yaml", overrides=["++model.image_size=512"])
    assert composed[0] == ["++model.compile_image_encoder=False", "++model.x=1", "++model.image_size=512"]
    assert composed[1] == ["++model.image_size=512", NO_COMPILE]


def _planned(scenario, obj, num_frames=10, legacy=False):
    from oracle.scenarios import VIDEO_SCENARIOS, plan_for_object

    plan = plan_for_object(VIDEO_SCENARIOS[scenario], obj, num_frames, stop_at_correction=legacy)
    return [(p.index, getattr(p.op, "start", None)) for p in plan]


def test_per_object_cut_follows_the_full_session():
    # Object 1: its prompts and clears, propagations from its first prompt on, until the reset.
    assert _planned("video_full", 1) == [(0, None), (3, 0), (4, None), (5, 0), (6, 9), (8, 1), (10, 0), (11, None)]
    # Object 2 ends where it is removed.
    assert _planned("video_full", 2) == [(1, None), (2, None), (3, 0), (5, 0), (6, 9), (8, 1)]
    # Object 3 (prompted on frame 2) propagates from frame 0, as the full session does.
    assert _planned("video_full", 3) == [(7, None), (8, 1), (10, 0)]
    # Object 4 comes after the reset, which does not end it.
    assert _planned("video_full", 4) == [(13, None), (14, 1)]
    assert _planned("video_reverse", 2, num_frames=10) == [(1, None), (2, 6), (3, 6)]
    # The legacy predictor's cut ends with the first correction of a tracked frame.
    assert _planned("video_full", 1, legacy=True) == [(0, None), (3, 0), (4, None)]
    assert _planned("video_full", 3, legacy=True) == _planned("video_full", 3)


def test_clearing_a_conditioning_frame_moves_the_default_start():
    from oracle.scenarios import ClearFrame, Click, Propagate, VideoScenario, plan_for_object

    scenario = VideoScenario((Click(frame=1, obj=1, points=((0.5, 0.5, 1),)),
                              Click(frame=4, obj=2, points=((0.5, 0.5, 1),)),
                              ClearFrame(frame=1, obj=1), Propagate()))
    assert [getattr(p.op, "start", None) for p in plan_for_object(scenario, 2, 8)] == [None, 4]


def _video_steps(rows_per_step):
    """rows_per_step: [(label, frame, {obj: logits})] -> _write steps."""
    return [{"label": label, "frame_idx": frame, "obj_ids": list(rows),
             "logits": np.stack(list(rows.values())) if rows else None}
            for label, frame, rows in rows_per_step]


def _write_video(path, steps, only_object=-1):
    arrays = {"meta_num_steps": np.array(len(steps)), "meta_total_seconds": np.array(1.0),
              "meta_only_object": np.array(only_object)}
    for i, step in enumerate(steps):
        prefix = f"step{i:03d}_"
        arrays[prefix + "label"] = np.array(step["label"])
        arrays[prefix + "frame_idx"] = np.array(step["frame_idx"])
        arrays[prefix + "obj_ids"] = np.array(step["obj_ids"], dtype=np.int64)
        if step["logits"] is not None:
            arrays[prefix + "logits"] = step["logits"]
    np.savez(path, **arrays)
    return path


def test_per_object_comparison(tmp_path):
    from oracle.compare import compare_per_object

    a, b, c = (_logits(seed, (24, 32)) for seed in (1, 2, 3))
    whole = _write_video(tmp_path / "all.npz", _video_steps([
        ("init_state", -1, {}), ("op00:Click", 0, {1: a}), ("op01:Click", 0, {1: a, 2: b}),
        ("op02:Propagate", 0, {1: a, 2: b}), ("op02:Propagate", 1, {1: c, 2: a}),
        ("op03:RemoveObject/updated", 0, {1: a})]))
    one = _write_video(tmp_path / "1.npz", _video_steps([
        ("init_state", -1, {}), ("op00:Click", 0, {1: a}), ("op02:Propagate", 0, {1: a}),
        ("op02:Propagate", 1, {1: c})]), only_object=1)
    two = _write_video(tmp_path / "2.npz", _video_steps([
        ("init_state", -1, {}), ("op01:Click", 0, {2: b}), ("op02:Propagate", 0, {2: b}),
        ("op02:Propagate", 1, {2: a + np.float32(1e-4)})]), only_object=2)
    report = compare_per_object(whole, [one, two])
    assert report.ok, report.summary()
    assert report.masks_compared == 6 and report.steps == 8

    wrong = _write_video(tmp_path / "2b.npz", _video_steps([
        ("op01:Click", 0, {2: b}), ("op02:Propagate", 1, {2: -a}), ("op09:Propagate", 3, {2: a})]), only_object=2)
    report = compare_per_object(whole, [one, wrong])
    assert not report.ok
    assert "object 2" in report.worst_iou.where and report.worst_iou.value < 0.5
    assert any("op09:Propagate" in e and "0 matching" in e for e in report.structure_errors)
    not_one = _write_video(tmp_path / "x.npz", _video_steps([("op00:Click", 0, {1: a})]))
    assert compare_per_object(whole, [not_one]).structure_errors


def test_golden_round_trip_and_comparison(tmp_path):
    from oracle.golden import compare_with_golden, expand, shrink

    recording = {"meta_num_steps": np.array(2)}
    for i, step in enumerate(_video_steps([("op00:Click", 0, {1: _logits(1, (5, 7))}),
                                           ("op01:Propagate", 1, {1: _logits(2, (5, 7)), 2: _logits(3, (5, 7))})])):
        for key in ("label", "frame_idx", "obj_ids", "logits"):
            recording[f"step{i:03d}_{key}"] = np.asarray(step[key])
    recording["step001_ious"] = np.array([0.5, 0.25], np.float32)
    recording["step001_masks"] = np.array([[True, False], [False, True]])

    golden = shrink(recording, "video_full/")
    assert sorted(golden) == ["video_full/mask_bits", "video_full/scores", "video_full/steps"]
    back = expand(golden, "video_full/")
    assert sorted(back) == sorted(k for k in recording if not k.endswith("seconds"))
    assert np.array_equal(back["step001_logits"], recording["step001_logits"] > 0)
    assert np.array_equal(back["step001_masks"], recording["step001_masks"])
    np.savez_compressed(tmp_path / "g.npz", **golden)
    with np.load(tmp_path / "g.npz") as stored:
        assert compare_with_golden(stored, "video_full/", recording).ok

    changed = dict(recording)
    changed["step001_logits"] = recording["step001_logits"].copy()
    changed["step001_logits"][1] *= -1
    report = compare_with_golden(golden, "video_full/", changed)
    assert not report.ok and "logits[1]" in report.worst_iou.where
    changed = dict(recording, step001_ious=np.array([0.5, 0.5], np.float32))
    assert not compare_with_golden(golden, "video_full/", changed).ok


def test_manifest_weights_are_reproducible_and_initialised_by_kind():
    torch = pytest.importorskip("torch")
    from oracle import manifest_weights as mw

    model = torch.nn.Module()
    model.proj = torch.nn.Linear(64, 32)
    model.norm = torch.nn.LayerNorm(32)
    model.point_embeddings = torch.nn.ModuleList([torch.nn.Embedding(1, 16)])
    model.register_buffer("positional_encoding_gaussian_matrix", torch.randn(2, 64))
    model.gamma = torch.nn.Parameter(torch.full((8,), 1e-6))
    model.no_mem_embed = torch.nn.Parameter(torch.zeros(1, 1, 256))
    model.register_buffer("count", torch.zeros(3, dtype=torch.long))
    model.sam_mask_decoder = torch.nn.Module()  # what the informative tweaks look for
    model.sam_mask_decoder.pred_obj_score_head = torch.nn.Linear(8, 1)
    hypernet = torch.nn.Module()
    hypernet.layers = torch.nn.ModuleList(torch.nn.Linear(8, 8) for _ in range(3))
    model.sam_mask_decoder.output_hypernetworks_mlps = torch.nn.ModuleList([hypernet])

    manifest = mw.manifest_of(model.state_dict())
    assert manifest["proj.weight"] == {"shape": [32, 64], "dtype": "float32"}
    state = mw.generate(manifest, seed=0)
    assert list(state) == list(manifest) and state["count"].dtype == torch.long
    assert state["proj.weight"].abs().max() <= 1 / 8 and state["proj.bias"].abs().max() <= 1 / 8
    assert torch.equal(state["norm.weight"], torch.ones(32)) and torch.equal(state["norm.bias"], torch.zeros(32))
    assert 0.5 < state["point_embeddings.0.weight"].std() < 1.5
    assert 0.5 < state["positional_encoding_gaussian_matrix"].std() < 1.5
    assert 0.01 < state["no_mem_embed"].std() < 0.03 and torch.all(state["gamma"] == 1e-6)
    assert mw.digest(state) == mw.digest(mw.generate(manifest, seed=0)) != mw.digest(mw.generate(manifest, seed=1))

    informative = mw.informative_weights(manifest, seed=0)
    assert not torch.equal(informative["norm.weight"], state["norm.weight"])  # constants get noise
    assert torch.equal(informative["proj.weight"], state["proj.weight"])
    model.load_state_dict(informative)


def test_run_scenario_needs_an_object_placeholder_for_several_objects(tmp_path):
    from oracle import run_scenario

    common = ["--impl", "ours", "--config", "c", "--checkpoint", "w", "--frames", str(tmp_path)]
    with pytest.raises(SystemExit):
        run_scenario.main([*common, "--scenario", "video_full", "--out", "x.npz", "--only-object", "1", "2"])
    with pytest.raises(SystemExit):
        run_scenario.main([*common, "--scenario", "image", "--out", "x.npz", "--only-object", "1"])
