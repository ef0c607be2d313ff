"""Parity of our ``sam2`` with Meta's ``sam2==1.1.0`` on real clips, fp32, CPU.

Each case makes a random-but-informative checkpoint with the reference
(``oracle/make_checkpoint.py``), plays a scripted prompting session through both
implementations in separate subprocesses (``oracle/run_scenario.py``) and compares every
returned mask (``oracle/compare.py``): IoU >= 0.99 per object per frame and a small mean
logit difference.

Knobs (environment variables):
  SAM2_REFERENCE_DIR       reference install with pkg/ and deps/ (else .cache/reference,
                           installed with pip on first use; see oracle/reference_env.py)
  SAM2_PARITY_IMAGE_SIZE   model input size (default 512 for speed; 1024 = the real model)
  SAM2_PARITY_SELF_CHECK=1 run the reference on both sides: validates the harness itself,
                           and the comparison must then be exact

Run only these with ``python -m pytest -m parity -s`` (``-s`` shows the reports).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from oracle import reference_env
from oracle.compare import compare_recordings
from oracle.frames import extract_frames, prepare_stills
from oracle.paths import REPO as REPO_ROOT
from oracle.paths import SHARED_DATA

ORACLE = REPO_ROOT / "oracle"

IMAGE_SIZE = int(os.environ.get("SAM2_PARITY_IMAGE_SIZE", "512"))
MAX_MEAN_DIFF = 0.02
MIN_IOU = 0.99
SELF_CHECK = os.environ.get("SAM2_PARITY_SELF_CHECK", "") not in ("", "0")
SUBPROCESS_TIMEOUT = 1800  # seconds, per implementation run

SAM21_T = "configs/sam2.1/sam2.1_hiera_t.yaml"
SAM20_T = "configs/sam2/sam2_hiera_t.yaml"
FRAME_WIDTH = 480  # clips are downscaled: logits are stored at video resolution
STILL_WIDTH = 1024


@dataclass(frozen=True)
class Case:
    scenario: str
    config: str
    clip: str | None = None  # mp4 in shared/data, cut into `frames` JPEGs every `stride` frames
    frames: int = 0
    stride: int = 3
    stills: tuple = ()  # images in shared/data used as they are (image predictor)

    @property
    def id(self) -> str:
        return f"{self.scenario}-{Path(self.config).stem}"


# Frame counts: 10 frames > num_maskmem (7), so the memory bank fills and frames drop out of
# it. Reference timings on this 2-core CPU at 512 px are in the report printed per case.
CASES = [
    Case("video_full", SAM21_T, clip="dog.mp4", frames=10),
    Case("video_reverse", SAM21_T, clip="bedroom.mp4", frames=10),
    Case("video_basic", SAM20_T, clip="cups.mp4", frames=10),
    Case("image", SAM21_T, stills=("truck.jpg", "groceries.jpg")),
    Case("automatic_masks", SAM21_T, stills=("groceries.jpg",)),
]


def _run(cmd: list, env: dict, cwd: Path, what: str) -> float:
    started = time.perf_counter()
    proc = subprocess.run(
        cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT
    )
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-40:])
        pytest.fail(f"{what} exited with {proc.returncode} after {elapsed:.0f}s:\n{tail}")
    return elapsed


def _ours_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO_ROOT)
    return env


@pytest.fixture(scope="session")
def reference():
    env = reference_env.find_or_install_reference()
    if env is None:
        reason = f"reference sam2=={reference_env.REFERENCE_VERSION} unavailable: "
        reason += str(reference_env.last_failure_reason)
        print("\n" + reason, file=sys.stderr)
        pytest.skip(reason)
    return env


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"test media folder {SHARED_DATA} is absent (it lives beside the repo)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def workdir(tmp_path_factory) -> Path:
    # A neutral cwd: neither the repo root nor anything else holding a `sam2` folder.
    return tmp_path_factory.mktemp("parity")


@pytest.fixture(scope="session")
def checkpoint_for(reference, workdir):
    """config -> path of its informative random checkpoint, made once with the reference."""
    made: dict = {}

    def get(config: str) -> Path:
        if config not in made:
            out = workdir / (Path(config).stem + ".pt")
            _run(
                [sys.executable, str(ORACLE / "make_checkpoint.py"), "--config", config,
                 "--out", str(out), "--seed", "0"],
                reference.subprocess_env(), workdir, f"make_checkpoint {config}",
            )
            made[config] = out
        return made[config]

    return get


@pytest.fixture(scope="session")
def frames_for(shared_data, workdir):
    """Case -> folder of 00000.jpg, ... made once per clip."""
    made: dict = {}

    def get(case: Case) -> Path:
        key = (case.clip, case.frames, case.stride, case.stills)
        if key not in made:
            folder = workdir / f"frames-{len(made)}"
            if case.clip:
                extract_frames(shared_data / case.clip, folder, case.frames, case.stride, FRAME_WIDTH)
            else:
                stills = [shared_data / name for name in case.stills]
                prepare_stills(stills, folder, STILL_WIDTH)
            made[key] = folder
        return made[key]

    return get


@pytest.mark.parity
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_matches_reference(case, reference, checkpoint_for, frames_for, workdir):
    checkpoint = checkpoint_for(case.config)
    frames = frames_for(case)
    outputs = {}
    timings = {}
    sides = [("reference", "reference", reference.subprocess_env())]
    if SELF_CHECK:
        sides.append(("candidate", "reference", reference.subprocess_env()))
    else:
        sides.append(("candidate", "ours", _ours_env()))
    for side, impl, env in sides:
        out = workdir / f"{case.id}-{side}-{IMAGE_SIZE}.npz"
        cmd = [
            sys.executable, str(ORACLE / "run_scenario.py"), "--impl", impl,
            "--config", case.config, "--checkpoint", str(checkpoint),
            "--scenario", case.scenario, "--frames", str(frames), "--out", str(out),
            "--image-size", str(IMAGE_SIZE),
        ]
        timings[side] = _run(cmd, env, workdir, f"{impl} run of {case.id}")
        outputs[side] = out

    # Guard against comparing a package with itself by accident (a stray PYTHONPATH).
    expected_dirs = {
        "reference": reference.pkg_dir,
        "candidate": reference.pkg_dir if SELF_CHECK else REPO_ROOT,
    }
    for side, root in expected_dirs.items():
        with np.load(outputs[side]) as recording:
            package_dir = Path(str(recording["meta_package_dir"]))
        assert package_dir.is_relative_to(root.resolve()), f"{side} ran the sam2 in {package_dir}"

    report = compare_recordings(
        outputs["reference"], outputs["candidate"], MIN_IOU, MAX_MEAN_DIFF
    )
    candidate = "reference (self-check)" if SELF_CHECK else "ours"
    print(
        f"\n[parity {case.id} @ {IMAGE_SIZE}px] reference {timings['reference']:.1f}s, "
        f"{candidate} {timings['candidate']:.1f}s (subprocess wall time)\n{report.summary()}"
    )
    assert report.ok, f"{case.id}: outputs differ from the reference\n{report.summary()}"
    if case.scenario == "automatic_masks":  # the comparison means something only with masks in it
        with np.load(outputs["reference"]) as recording:
            assert len(recording["step000_masks"]) >= 20 and len(recording["step001_masks"]) >= 5
    if SELF_CHECK:
        assert report.worst_mean_diff.value == 0.0 and report.worst_iou.value == 1.0
