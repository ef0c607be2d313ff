"""Parity of our EdgeTAM and EfficientTAM with their official codes, fp32, CPU (marker parity).

* EdgeTAM (official: ``edgetam-dimos==1.0.1``, installed on first use into
  ``.cache/oracles/edgetam``; see oracle/reference_env.py): its legacy video predictor tracks
  one object per session, so it plays each object of a scenario alone
  (``run_scenario.py --only-object``) while ours plays all objects together; every mask of
  every object and frame must match (``compare.compare_per_object``). At 1024 px: the
  official code cannot run at 512 (its memory cross-attention rotates queries on a fixed
  64 x 64 grid), so the clips are short.
* EfficientTAM (official: github yformer/EfficientTAM, which CI cannot fetch): ours against
  the golden files in tests/golden/efficienttam, recorded once with
  ``python -m oracle.record_efficienttam``; the manifest the weights are regenerated from and
  the hash of the input frames (cut again from ../shared/data) are in them, so these cases
  need no official code.
* The harness itself, at 256 px: the reference ``sam2==1.1.0`` played per object equals it
  played with all objects together, and so does EdgeTAM's legacy predictor running SAM 2.1
  (which checks how the per-object cut treats the legacy predictor's corrections).

The cases comparing ours skip while our ``sam2`` does not know the config name yet; the
EdgeTAM and harness cases skip without the clips of ``../shared/data``.

Knobs (environment variables):
  EDGETAM_ORACLE_DIR / SAM2_REFERENCE_DIR   existing installs (pkg/ + deps/)
  SAM2_FAMILY_FRAMES         frames of the clips the EdgeTAM and harness cases play (default 6)

Run only these with ``python -m pytest tests/test_parity_family.py -s`` (``-s`` shows reports).
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from oracle import reference_env
from oracle import record_efficienttam as eta
from oracle.compare import compare_per_object
from oracle.frames import extract_frames
from oracle.golden import compare_with_golden, expand
from oracle.manifest_weights import digest, informative_weights
from oracle.metrics import mask_iou
from oracle.paths import REPO, SHARED_DATA
from oracle.scenarios import VIDEO_SCENARIOS, scenario_objects

pytestmark = pytest.mark.parity

RUN_SCENARIO = REPO / "oracle" / "run_scenario.py"
MAKE_CHECKPOINT = REPO / "oracle" / "make_checkpoint.py"
MIN_IOU = 0.999
MAX_MEAN_DIFF = 0.02
SUBPROCESS_TIMEOUT = 1800

EDGETAM = "configs/edgetam.yaml"
EDGETAM_SIZE = 1024
SAM21_T = "configs/sam2.1/sam2.1_hiera_t.yaml"
HARNESS_SIZE = 256  # what the harness checks does not depend on the resolution
FRAME_WIDTH = 480
CLIPS = {"video_full": "dog.mp4", "video_reverse": "bedroom.mp4", "video_basic": "cups.mp4"}
# Frames of each clip (every 3rd). EdgeTAM runs at 1024 px, so few: 6 leave the memory bank
# five frames deep; video_reverse needs at least 5 (it prompts frame -4 and tracks back).
NUM_FRAMES = int(os.environ.get("SAM2_FAMILY_FRAMES", "6"))


def _run(cmd: list, env: dict, cwd: Path, what: str) -> float:
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-40:])
        pytest.fail(f"{what} exited with {proc.returncode} after {elapsed:.0f}s:\n{tail}")
    return elapsed


def _scenario_cmd(impl, config, checkpoint, scenario, frames, out, image_size, objects=()):
    cmd = [sys.executable, str(RUN_SCENARIO), "--impl", impl, "--config", config, "--checkpoint",
           str(checkpoint), "--scenario", scenario, "--frames", str(frames), "--out", str(out),
           "--image-size", str(image_size)]
    return cmd + (["--only-object", *map(str, objects)] if objects else [])


def _ours_env() -> dict:
    return {**os.environ, "PYTHONPATH": str(REPO)}


@functools.lru_cache(maxsize=None)
def _ours_cannot_build(config: str) -> str | None:
    from sam2.build_sam import build_sam2

    try:
        build_sam2(config, None, device="cpu")
    except ValueError as exc:  # what our builder raises for a config name it does not know
        return str(exc)
    return None


def _require_ours(config: str) -> None:
    """Skip while our sam2 does not know ``config`` yet."""
    reason = _ours_cannot_build(config)
    if reason:
        pytest.skip(f"our sam2 cannot build {config} yet: {reason}")


def _oracle(spec):
    found = reference_env.find_or_install(spec)
    if found is None:
        pytest.skip(f"{spec.name} oracle ({spec.version}) unavailable: {reference_env.last_failure_reason}")
    return found


def _package_dir(recording: Path) -> Path:
    with np.load(recording) as data:
        return Path(str(data["meta_package_dir"]))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    # A neutral cwd: neither the repo root nor anything else holding a `sam2` folder.
    return tmp_path_factory.mktemp("family")


@pytest.fixture(scope="module")
def clip_frames(workdir):
    """scenario -> folder of its clip's first NUM_FRAMES frames (every 3rd)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"test media folder {SHARED_DATA} is absent (it lives beside the repo)")
    made: dict = {}

    def get(scenario: str) -> Path:
        if scenario not in made:
            made[scenario] = extract_frames(SHARED_DATA / CLIPS[scenario], workdir / f"frames-{scenario}",
                                            NUM_FRAMES, 3, FRAME_WIDTH)
        return made[scenario]

    return get


def _checkpoint(oracle, impl: str, config: str, workdir: Path) -> Path:
    out = workdir / f"{impl}-{Path(config).stem}.pt"
    if not out.exists():
        _run([sys.executable, str(MAKE_CHECKPOINT), "--impl", impl, "--config", config, "--out", str(out),
              "--seed", "0"], oracle.subprocess_env(), workdir, f"make_checkpoint {impl} {config}")
    return out


def _per_object_runs(oracle, impl, config, checkpoint, scenario, frames, size, workdir) -> list:
    objects = scenario_objects(VIDEO_SCENARIOS[scenario])
    pattern = workdir / f"{impl}-{Path(config).stem}-{scenario}-obj{{obj}}.npz"
    outs = [Path(str(pattern).format(obj=obj)) for obj in objects]
    if not all(out.exists() for out in outs):
        seconds = _run(_scenario_cmd(impl, config, checkpoint, scenario, frames, pattern, size, objects),
                       oracle.subprocess_env(), workdir, f"{impl} per-object {scenario}")
        print(f"\n[{impl} {Path(config).stem} {scenario}] objects {objects} one by one: {seconds:.0f}s")
    assert all(_package_dir(out).is_relative_to(oracle.pkg_dir) for out in outs)
    return outs


def _all_objects_run(impl, env, config, checkpoint, scenario, frames, size, workdir) -> Path:
    out = workdir / f"{impl}-{Path(config).stem}-{scenario}-all.npz"
    if not out.exists():
        seconds = _run(_scenario_cmd(impl, config, checkpoint, scenario, frames, out, size), env, workdir,
                       f"{impl} {scenario}")
        print(f"\n[{impl} {Path(config).stem} {scenario}] all objects: {seconds:.0f}s")
    return out


def _mask_rows(recording: Path) -> dict:
    """(label, frame, object) -> logits of every mask in a recording."""
    rows = {}
    with np.load(recording) as data:
        for i in range(int(data["meta_num_steps"])):
            step = f"step{i:03d}_"
            if step + "logits" in data:
                for obj, logits in zip(data[step + "obj_ids"], data[step + "logits"]):
                    rows[(str(data[step + "label"]), int(data[step + "frame_idx"]), int(obj))] = logits
    return rows


def _mask_rows_of(recordings: list) -> dict:
    rows = {}
    for recording in recordings:
        rows.update(_mask_rows(recording))
    return rows


# --------------------------------------------------------------------------------------
# EdgeTAM
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def edgetam():
    return _oracle(reference_env.EDGETAM)


@pytest.fixture(scope="module")
def edgetam_official(edgetam, clip_frames, workdir):
    """scenario -> the official per-object recordings (made once)."""

    def get(scenario: str) -> list:
        checkpoint = _checkpoint(edgetam, "edgetam", EDGETAM, workdir)
        return _per_object_runs(edgetam, "edgetam", EDGETAM, checkpoint, scenario, clip_frames(scenario),
                                EDGETAM_SIZE, workdir)

    return get


@pytest.mark.parametrize("scenario", sorted(CLIPS))
def test_edgetam_official_masks_are_informative(scenario, edgetam_official):
    rows = _mask_rows_of(edgetam_official(scenario))
    fractions = [float((logits > 0).mean()) for logits in rows.values()]
    print(f"\n[edgetam official {scenario}] {len(fractions)} masks, positive fraction "
          f"min {min(fractions):.3f} median {np.median(fractions):.3f} max {max(fractions):.3f}")
    assert 0.01 < min(fractions) and max(fractions) < 0.99
    by_step: dict = {}
    for (label, frame, obj), logits in rows.items():
        by_step.setdefault((label, frame), []).append(logits > 0)
    pairs = [mask_iou(a, b) for masks in by_step.values() for i, a in enumerate(masks) for b in masks[i + 1:]]
    assert pairs and min(pairs) < 0.95, "the objects' masks should differ"


@pytest.mark.parametrize("scenario", sorted(CLIPS))
def test_edgetam_matches_official_per_object(scenario, edgetam, edgetam_official, clip_frames, workdir):
    official = edgetam_official(scenario)
    _require_ours(EDGETAM)
    checkpoint = _checkpoint(edgetam, "edgetam", EDGETAM, workdir)
    ours = _all_objects_run("ours", _ours_env(), EDGETAM, checkpoint, scenario, clip_frames(scenario),
                            EDGETAM_SIZE, workdir)
    assert _package_dir(ours).is_relative_to(REPO)
    report = compare_per_object(ours, official, MIN_IOU, MAX_MEAN_DIFF)
    print(f"\n[edgetam {scenario} @ {EDGETAM_SIZE}px] ours (all objects) vs official (one by one)\n"
          f"{report.summary()}")
    assert report.ok, report.summary()
    assert report.masks_compared >= len(_mask_rows_of(official))


# --------------------------------------------------------------------------------------
# EfficientTAM
# --------------------------------------------------------------------------------------

GOLDEN_CASES = [(config, scenario) for config, scenarios in eta.CONFIG_SCENARIOS.items() for scenario in scenarios]


@pytest.fixture(scope="module")
def goldens():
    missing = [eta.golden_file(c) for c in eta.CONFIGS if not eta.golden_file(c).exists()]
    assert not missing, f"golden files missing (python -m oracle.record_efficienttam): {missing}"
    return {config: dict(np.load(eta.golden_file(config))) for config in eta.CONFIGS}


@pytest.fixture(scope="module")
def golden_inputs(goldens, workdir):
    """(config, scenario) -> folder of the frames its golden recording saw, cut again from
    ../shared/data (pixels checked against the recording's hash)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"test media folder {SHARED_DATA} is absent (it lives beside the repo)")
    made: dict = {}

    def get(config: str, scenario: str) -> Path:
        golden = goldens[config]
        name, recorded = str(golden[f"{scenario}/meta_inputs"]), str(golden[f"{scenario}/meta_inputs_sha256"])
        if (name, recorded) not in made:
            made[(name, recorded)] = eta.make_inputs(scenario, workdir / f"golden-{name}", recorded)
        return made[(name, recorded)]

    return get


@pytest.fixture(scope="module")
def golden_checkpoint(goldens, workdir):
    """config -> checkpoint regenerated from its golden file's manifest (digest checked)."""
    made: dict = {}

    def get(config: str) -> Path:
        if config not in made:
            golden = goldens[config]
            state = informative_weights(json.loads(str(golden["meta_manifest"])), int(golden["meta_seed"]))
            assert digest(state) == str(golden["meta_weights_digest"]), (
                f"weights regenerated from the {config} manifest differ from the recorded ones")
            made[config] = workdir / f"golden-{config}.pt"
            torch.save({"model": state}, made[config])
        return made[config]

    return get


@pytest.mark.parametrize("config", eta.CONFIGS)
def test_efficienttam_goldens_regenerate(config, goldens, golden_inputs, golden_checkpoint):
    """What CI needs of a golden file, without the official code: its inputs, its weights,
    and informative masks recorded in it."""
    golden_checkpoint(config)
    for scenario in eta.CONFIG_SCENARIOS[config]:
        golden_inputs(config, scenario)
        masks = [m for k, m in expand(goldens[config], f"{scenario}/").items() if m.dtype == bool]
        fractions = [float(m.mean()) for m in masks]
        assert np.median(fractions) > 0.05 and np.median(fractions) < 0.95, (config, scenario)
        assert str(goldens[config]["meta_official_commit"]) == reference_env.EFFICIENTTAM_COMMIT


@pytest.mark.parametrize("config,scenario", GOLDEN_CASES, ids=[f"{s}-{c}" for c, s in GOLDEN_CASES])
def test_efficienttam_matches_golden(config, scenario, goldens, golden_inputs, golden_checkpoint, workdir):
    golden = goldens[config]
    config_file = str(golden["meta_config"])
    _require_ours(config_file)
    size = int(golden["meta_image_size"])
    out = workdir / f"ours-{config}-{scenario}.npz"
    seconds = _run(_scenario_cmd("ours", config_file, golden_checkpoint(config), scenario,
                                 golden_inputs(config, scenario), out, size), _ours_env(), workdir,
                   f"ours {config} {scenario}")
    with np.load(out) as recording:
        assert Path(str(recording["meta_package_dir"])).is_relative_to(REPO)
        assert int(recording["meta_model_image_size"]) == size
        report = compare_with_golden(golden, f"{scenario}/", recording, MIN_IOU)
    print(f"\n[efficienttam {config} {scenario} @ {size}px] ours {seconds:.1f}s vs golden "
          f"(official {str(golden['meta_official_commit'])[:7]})\n{report.summary()}")
    assert report.ok, report.summary()


# --------------------------------------------------------------------------------------
# The harness: one-object runs against all-objects runs, on the reference
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reference():
    return _oracle(reference_env.REFERENCE)


@pytest.mark.parametrize("scenario", ["video_full", "video_reverse"])
def test_reference_per_object_equals_all_objects(scenario, reference, clip_frames, workdir):
    """sam2==1.1.0 tracks every object on its own: the per-object cut must reproduce it."""
    checkpoint = _checkpoint(reference, "reference", SAM21_T, workdir)
    frames = clip_frames(scenario)
    whole = _all_objects_run("reference", reference.subprocess_env(), SAM21_T, checkpoint, scenario, frames,
                             HARNESS_SIZE, workdir)
    parts = _per_object_runs(reference, "reference", SAM21_T, checkpoint, scenario, frames, HARNESS_SIZE,
                             workdir)
    report = compare_per_object(whole, parts, min_iou=0.9999, max_mean_diff=1e-4)
    print(f"\n[reference {scenario}] all objects vs one by one\n{report.summary()}")
    assert report.ok, report.summary()
    assert report.masks_compared == len(_mask_rows_of(parts))


def test_legacy_predictor_per_object_equals_reference(reference, edgetam, clip_frames, workdir):
    """EdgeTAM's package also runs SAM 2.1 configs, through its legacy predictor: cut per
    object (stopping at an object's first correction of a tracked frame) it reproduces the
    reference's all-objects run, which validates the cut EdgeTAM's own runs use."""
    checkpoint = _checkpoint(reference, "reference", SAM21_T, workdir)
    frames = clip_frames("video_full")
    whole = _all_objects_run("reference", reference.subprocess_env(), SAM21_T, checkpoint, "video_full",
                             frames, HARNESS_SIZE, workdir)
    parts = _per_object_runs(edgetam, "edgetam", SAM21_T, checkpoint, "video_full", frames, HARNESS_SIZE,
                             workdir)
    report = compare_per_object(whole, parts, min_iou=0.999, max_mean_diff=1e-3)
    print(f"\n[edgetam legacy predictor, sam2.1 tiny, video_full] vs reference\n{report.summary()}")
    assert report.ok, report.summary()
    assert report.masks_compared == len(_mask_rows_of(parts))
