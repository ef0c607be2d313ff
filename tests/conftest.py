"""Shared fixtures: a tiny random-weights model and small synthetic videos."""

from pathlib import Path

import numpy as np
import pytest
import torch

from oracle import reference_env
from oracle.paths import SHARED_DATA
from sam2.assembly.configs import PRESETS
from sam2.assembly.model_builder import build_model
from sam2.assembly.random_weights import make_masks_informative
from sam2.runtime.precision import dtype_name, fastest_safe_dtype
from sam2.sam2_video_predictor import SAM2VideoPredictor

# What the app computes in on this machine's CPU, as its status line names it: bfloat16 where
# the CPU has AMX or AVX512-BF16, else float32.
CPU_PRECISION = dtype_name(fastest_safe_dtype("cpu"))


@pytest.fixture(scope="session")
def tiny_predictor() -> SAM2VideoPredictor:
    torch.manual_seed(0)
    predictor = build_model(PRESETS["test_tiny"], SAM2VideoPredictor, binarize_mask_from_pts_for_mem_enc=True)
    make_masks_informative(predictor)
    return predictor.eval()


@pytest.fixture(scope="module")
def tiny_engine():
    """The app's engine around its own tiny random-weights predictor, built as the app builds them."""
    from tracker.model.engine import Engine

    torch.manual_seed(0)
    predictor = build_model(PRESETS["test_tiny"], SAM2VideoPredictor, binarize_mask_from_pts_for_mem_enc=True,
                            add_all_frames_to_correct_as_cond=True)
    make_masks_informative(predictor)
    return Engine.wrap(predictor.eval(), "test_tiny")


def model_calls_for(engine, budget=None, detectors=None, environ=None):
    """The app's model calls over ``engine`` as the only model (settings from a test environment
    plus ``environ``; ``detectors`` loads the text detector, default the real loader)."""
    from tracker.model.calls import GpuBudget, ModelCalls
    from tracker.model.loading import EngineCache
    from tracker.settings import AppSettings

    settings = AppSettings.from_sources([], {"SAM2_DEVICE": "cpu", "SAM2_MODEL": "facebook/sam2.1-hiera-tiny",
                                             **(environ or {})})
    options = {} if detectors is None else {"detectors": detectors}
    return ModelCalls(EngineCache(settings, loaded=engine), budget or GpuBudget(), **options)


@pytest.fixture(scope="module")
def tiny_calls(tiny_engine):
    return model_calls_for(tiny_engine)


class FakeGlibc:
    """Stands in for glibc in ``sam2.runtime.cpu_allocator``; records the malloc calls made through it."""

    def __init__(self) -> None:
        self.calls: list = []

    def mallopt(self, param: int, value: int) -> int:
        self.calls.append(("mallopt", param, value))
        return 1

    def malloc_trim(self, pad: int) -> int:
        self.calls.append(("malloc_trim", pad))
        return 1

    def count(self, name: str) -> int:
        return sum(call[0] == name for call in self.calls)


@pytest.fixture()
def fake_glibc(monkeypatch) -> FakeGlibc:
    """A process that has not opted in to the allocator tuning, whose glibc is a FakeGlibc."""
    from sam2.runtime import cpu_allocator

    glibc = FakeGlibc()
    monkeypatch.setattr(cpu_allocator, "_GLIBC", glibc)
    monkeypatch.setattr(cpu_allocator, "_tuned", False)
    monkeypatch.delenv(cpu_allocator.ENV_SWITCH, raising=False)
    return glibc


def synthetic_frames(count: int = 6, height: int = 48, width: int = 64) -> list:
    """RGB uint8 frames of a bright square moving right over a textured background."""
    rng = np.random.default_rng(0)
    background = rng.integers(0, 80, size=(height, width, 3), dtype=np.uint8)
    frames = []
    for index in range(count):
        frame = background.copy()
        left = 8 + 3 * index
        frame[12:32, left : left + 16] = (230, 200, 40)
        frames.append(frame)
    return frames


@pytest.fixture()
def jpeg_folder(tmp_path):
    from PIL import Image

    folder = tmp_path / "frames"
    folder.mkdir()
    for index, frame in enumerate(synthetic_frames()):
        Image.fromarray(frame).save(folder / f"{index:05d}.jpg", quality=95)
    return str(folder)


def shared_data_or_skip(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"test media {path} is not available (it lives in ../shared/data beside the checkout)")
    return path


@pytest.fixture(scope="session")
def reference_sam2():
    """The reference package (sam2==1.1.0) in its own folder, for subprocesses; skips when it
    cannot be found or installed."""
    found = reference_env.find_or_install_reference()
    if found is None:
        pytest.skip(f"reference sam2 unavailable: {reference_env.last_failure_reason}")
    return found


@pytest.fixture()
def sam2long_revises_frames_2_to_4(monkeypatch):
    """SAM2Long steered so that a 6-frame run from frame 0 ends on another lineage: frame 2
    keeps three different masks of pathway 0 and shows mask 2; each pathway then goes on
    alone, and on frame 5 the one that kept mask 0 on frame 2 is best (frames 2-4 change)."""
    from sam2.tracking import sam2long

    track = sam2long.Sam2LongPolicy.track

    def track_frame(self, model, frame_idx, *args):
        steer.frame = frame_idx
        return track(self, model, frame_idx, *args)

    def steer(scores, iou_pred, logits, settings):
        best = [int(row.argmax()) for row in iou_pred]
        if steer.frame == 2:
            return [sam2long.Candidate(0, j, scores[0], 0.5) for j in (2, 0, 1)]
        if steer.frame == 5:
            return [sam2long.Candidate(p, best[p], 1.0 - k, 0.5) for k, p in enumerate((1, 0, 2))]
        return [sam2long.Candidate(p, best[p], scores[p], 0.5) for p in range(len(scores))]

    monkeypatch.setattr(sam2long, "surviving_candidates", steer)
    monkeypatch.setattr(sam2long.Sam2LongPolicy, "track", track_frame)
