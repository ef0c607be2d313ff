"""MemoryPolicy: today's limits as defaults, checked values, and sessions opened with it."""

import numpy as np
import pytest

from conftest import synthetic_frames
from sam2.frames.source import ArraySource
from sam2.runtime.memory_policy import DEFAULT_MEMORY_POLICY, MemoryPolicy
from tracker.media.video_io import write_mp4


def test_defaults_are_the_limits_used_before_the_policy():
    policy = MemoryPolicy()
    assert policy == DEFAULT_MEMORY_POLICY
    assert (policy.feature_cache_frames, policy.model_input_cache_frames) == (4, 8)
    assert policy.decoded_cache_bytes == 64 * 2**20 and policy.frames_between_trims == 50
    assert policy.spill_to_disk and policy.resident_limit(num_maskmem=7) == 8


def test_resident_frames_can_be_set_or_spilling_turned_off():
    assert MemoryPolicy(resident_memory_frames=1).resident_limit(7) == 1
    assert MemoryPolicy(resident_memory_frames=1, spill_to_disk=False).resident_limit(7) is None


@pytest.mark.parametrize("field, value", [
    ("feature_cache_frames", -1), ("model_input_cache_frames", 2.5), ("decoded_cache_bytes", 0),
    ("resident_memory_frames", 0), ("frames_between_trims", 0), ("frames_between_trims", True),
])
def test_nonsense_limits_are_refused(field, value):
    with pytest.raises(ValueError, match=field):
        MemoryPolicy(**{field: value})


def test_init_state_opens_the_video_with_the_policy_s_cache_sizes(tiny_predictor, tmp_path):
    frames = synthetic_frames(6)
    path = write_mp4(tmp_path / "clip.mp4", frames, fps=10)
    frame_bytes = frames[0].nbytes
    policy = MemoryPolicy(model_input_cache_frames=3, decoded_cache_bytes=2 * frame_bytes)
    state = tiny_predictor.init_state(str(path), memory_policy=policy)
    assert state.memory_policy is policy
    assert state.images.cache_size == 3 and state.images._window == 2
    default = tiny_predictor.init_state(str(path))
    assert default.memory_policy is DEFAULT_MEMORY_POLICY and default.images.cache_size == 8


def test_a_frame_source_passed_in_keeps_its_own_caches(tiny_predictor):
    source = ArraySource(np.stack(synthetic_frames(3)), cache_size=1)
    state = tiny_predictor.init_state(source, memory_policy=MemoryPolicy(model_input_cache_frames=5))
    assert state.images is source and source.cache_size == 1
