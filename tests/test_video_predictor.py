"""Behaviour of SAM2VideoPredictor on the tiny random-weights model."""

import os
import pickle

import numpy as np
import pytest
import torch

from conftest import synthetic_frames
from sam2.runtime import cpu_allocator
from sam2.runtime.memory_policy import MemoryPolicy
from sam2.sam2_video_predictor import SAM2VideoPredictor
from sam2.prompts import tracked_frames
from sam2.session.tensor_spill import TensorSpill
from sam2.state_storage import release, rest, tidy_spill, wake


@pytest.fixture()
def state(tiny_predictor, jpeg_folder):
    return tiny_predictor.init_state(video_path=jpeg_folder)


def test_state_reads_like_the_official_dict(state):
    assert state["num_frames"] == 6
    assert (state["video_height"], state["video_width"]) == (48, 64)
    assert state["obj_ids"] == []
    with pytest.raises(KeyError):
        state["no_such_key"]


def test_click_returns_video_resolution_logits_for_every_object(tiny_predictor, state):
    frame, ids, masks = tiny_predictor.add_new_points_or_box(state, 0, 1, points=[[20, 20]], labels=[1])
    assert (frame, ids) == (0, [1])
    assert masks.shape == (1, 1, 48, 64) and masks.dtype == torch.float32
    frame, ids, masks = tiny_predictor.add_new_points_or_box(state, 0, "cat", box=[5, 5, 40, 30])
    assert ids == [1, "cat"] and masks.shape == (2, 1, 48, 64)


def test_click_result_matches_the_same_frame_after_propagation(tiny_predictor, state):
    _, _, clicked = tiny_predictor.add_new_points_or_box(state, 0, 1, points=[[20, 20]], labels=[1])
    results = {f: m for f, _, m in tiny_predictor.propagate_in_video(state)}
    assert sorted(results) == list(range(6))
    torch.testing.assert_close(results[0], clicked)
    assert all(m.shape == (1, 1, 48, 64) for m in results.values())


def test_points_accumulate_unless_cleared(tiny_predictor, state):
    tiny_predictor.add_new_points_or_box(state, 2, 1, points=[[20, 20]], labels=[1])
    tiny_predictor.add_new_points_or_box(state, 2, 1, points=[[50, 40]], labels=[0], clear_old_points=False)
    prompt = state.objects[0].point_inputs[2]
    assert prompt.point_labels.tolist() == [[1, 0]]
    tiny_predictor.add_new_points_or_box(state, 2, 1, points=[[30, 30]], labels=[1])
    assert state.objects[0].point_inputs[2].point_labels.tolist() == [[1]]
    # Coordinates are scaled from video pixels to the model input.
    expected = torch.tensor([[[30 / 64 * 128, 30 / 48 * 128]]])
    torch.testing.assert_close(state.objects[0].point_inputs[2].point_coords, expected)


def test_box_is_stored_as_two_corner_points_before_clicks(tiny_predictor, state):
    tiny_predictor.add_new_points_or_box(state, 0, 1, points=[[20, 20]], labels=[1], box=[4, 4, 40, 30])
    assert state.objects[0].point_inputs[0].point_labels.tolist() == [[2, 3, 1]]


def test_reverse_and_bounded_propagation_visit_the_expected_frames(tiny_predictor, state):
    tiny_predictor.add_new_points_or_box(state, 3, 1, points=[[20, 20]], labels=[1])
    forward = [f for f, _, _ in tiny_predictor.propagate_in_video(state)]
    backward = [f for f, _, _ in tiny_predictor.propagate_in_video(state, reverse=True)]
    limited = [f for f, _, _ in tiny_predictor.propagate_in_video(state, start_frame_idx=1, max_frame_num_to_track=2)]
    assert forward == [3, 4, 5]
    assert backward == [3, 2, 1, 0]
    assert limited == [1, 2, 3]
    assert state.objects[0].frames_tracked == {0: True, 1: False, 2: False, 3: False, 4: False, 5: False}


def test_mask_prompt_is_returned_as_confident_logits(tiny_predictor, state):
    mask = np.zeros((48, 64), dtype=bool)
    mask[10:30, 10:40] = True
    _, _, logits = tiny_predictor.add_new_mask(state, 1, 5, mask)
    predicted = logits[0, 0] > 0
    iou = (predicted & torch.from_numpy(mask)).sum() / (predicted | torch.from_numpy(mask)).sum()
    assert iou > 0.9


def test_remove_object_keeps_the_others_and_reports_its_frames(tiny_predictor, state):
    tiny_predictor.add_new_points_or_box(state, 0, 1, points=[[20, 20]], labels=[1])
    tiny_predictor.add_new_points_or_box(state, 2, 2, points=[[40, 30]], labels=[1])
    ids, updated = tiny_predictor.remove_object(state, 1)
    assert ids == [2]
    assert [f for f, _ in updated] == [0]
    assert updated[0][1].shape == (1, 1, 48, 64)
    assert float(updated[0][1].max()) == -1024.0  # object 2 has nothing on frame 0 yet
    frames = [f for f, _, m in tiny_predictor.propagate_in_video(state)]
    assert frames == [2, 3, 4, 5]


def test_clear_prompts_turns_a_conditioning_frame_into_a_tracked_one(tiny_predictor, state):
    tiny_predictor.add_new_points_or_box(state, 0, 1, points=[[20, 20]], labels=[1])
    tiny_predictor.add_new_points_or_box(state, 3, 1, points=[[30, 20]], labels=[1])
    list(tiny_predictor.propagate_in_video(state))
    frame, ids, masks = tiny_predictor.clear_all_prompts_in_frame(state, 3, 1)
    assert (frame, ids, masks.shape) == (3, [1], (1, 1, 48, 64))
    obj = state.objects[0]
    assert 3 not in obj.cond_outputs and 3 in obj.non_cond_outputs and 3 not in obj.point_inputs


def test_reset_state_forgets_everything(tiny_predictor, state):
    tiny_predictor.add_new_points_or_box(state, 0, 1, points=[[20, 20]], labels=[1])
    tiny_predictor.reset_state(state)
    assert state["obj_ids"] == []
    with pytest.raises(RuntimeError, match="add a prompt"):
        list(tiny_predictor.propagate_in_video(state))


def test_frames_can_be_given_as_an_array(tiny_predictor):
    state = tiny_predictor.init_state(video_path=np.stack(synthetic_frames()))
    _, _, masks = tiny_predictor.add_new_points_or_box(state, 5, 1, points=[[20, 20]], labels=[1])
    assert masks.shape == (1, 1, 48, 64)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda p, s: p.add_new_points_or_box(s, 6, 1, points=[[1, 1]], labels=[1]), ValueError, "out of range"),
        (lambda p, s: p.add_new_points_or_box(s, -1, 1, points=[[1, 1]], labels=[1]), IndexError, "frames 0..5"),
        (lambda p, s: p.add_new_points_or_box(s, 0, 1, points=[[70, 1]], labels=[1]), ValueError, "outside the frame"),
        (lambda p, s: p.add_new_points_or_box(s, 0, 1, points=[[1, 1]]), ValueError, "together"),
        (lambda p, s: p.add_new_points_or_box(s, 0, 1), ValueError, "at least one"),
        (lambda p, s: p.add_new_points_or_box(s, 0, 1, points=[[1, 1]], labels=[1, 1]), ValueError, "does not match"),
        (lambda p, s: p.add_new_points_or_box(s, 0, 1, points=[[1, 1]], labels=[7]), ValueError, "labels"),
        (lambda p, s: p.add_new_points_or_box(s, 0, 1, box=[1, 2, 3]), ValueError, "4 numbers"),
        (lambda p, s: p.add_new_points_or_box(s, 0, 1, box=[1, 2, 3, 4], clear_old_points=False), ValueError, "box"),
        (lambda p, s: p.add_new_mask(s, 0, 1, np.zeros((2, 3, 4))), ValueError, "2-D"),
        (lambda p, s: p.remove_object(s, 42, strict=True), ValueError, "unknown object id 42"),
        (lambda p, s: p.clear_all_prompts_in_frame(s, 0, 42), RuntimeError, "unknown object id"),
        (lambda p, s: list(p.propagate_in_video(s)), RuntimeError, "add a prompt"),
    ],
)
def test_bad_input_raises_a_clear_error(tiny_predictor, state, call, error, message):
    with pytest.raises(error, match=message):
        call(tiny_predictor, state)
    assert state["obj_ids"] in ([], [1])


def test_remove_unknown_object_is_a_no_op_when_not_strict(tiny_predictor, state):
    assert tiny_predictor.remove_object(state, 42) == ([], [])


def test_unreadable_video_and_empty_folder_raise(tiny_predictor, tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"this is not a video")
    with pytest.raises(ValueError, match="broken.mp4"):
        tiny_predictor.init_state(video_path=str(broken))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="empty"):
        tiny_predictor.init_state(video_path=str(empty))
    with pytest.raises(FileNotFoundError):
        tiny_predictor.init_state(video_path=str(tmp_path / "missing"))


def run_session(predictor, frames, between_calls=lambda state: state, policy=None):
    """Clicks, propagation both ways, a correction on an early frame and re-tracking from it.
    ``between_calls(state)`` gives the state each call works on (the same one by default)."""
    state = between_calls(predictor.init_state(video_path=frames, memory_policy=policy))
    outputs = [predictor.add_new_points_or_box(state, 0, 1, points=[[20, 20]], labels=[1])[2]]
    state = between_calls(state)
    outputs.append(predictor.add_new_points_or_box(state, 5, 2, points=[[40, 30]], labels=[1])[2])
    state = between_calls(state)
    outputs += [m for _, _, m in predictor.propagate_in_video(state, max_frame_num_to_track=4)]
    state = between_calls(state)
    outputs += [m for _, _, m in predictor.propagate_in_video(state, start_frame_idx=5)]
    state = between_calls(state)
    outputs += [m for _, _, m in predictor.propagate_in_video(state, start_frame_idx=9, reverse=True)]
    state = between_calls(state)
    outputs.append(predictor.add_new_points_or_box(state, 1, 1, points=[[30, 25]], labels=[0], clear_old_points=False)[2])
    state = between_calls(state)
    outputs += [m for _, _, m in predictor.propagate_in_video(state, start_frame_idx=1)]
    return state, outputs


def test_spilled_memories_give_identical_results(tiny_predictor):
    frames = np.stack(synthetic_frames(10))
    kept, in_memory = run_session(tiny_predictor, frames, policy=MemoryPolicy(spill_to_disk=False))
    state, spilled = run_session(tiny_predictor, frames, policy=MemoryPolicy(resident_memory_frames=1))
    for expected, got in zip(in_memory, spilled):
        assert torch.equal(expected, got)
    assert kept.spill is None and all(out.is_resident for obj in kept.objects for out in obj.outputs())
    outputs = state.objects[0].non_cond_outputs
    resident = [t for t, out in outputs.items() if out.is_resident]
    assert len(resident) == 1 and len(outputs) >= 8
    assert sorted(os.listdir(state.spill.directory)) == sorted(os.path.basename(k) for k in state.spilled_keys())
    # Memory attention keys are kept only with memories that are in RAM.
    assert all(out.attention_keys is None for t, out in outputs.items() if t not in resident)
    assert state.objects[0].cond_outputs[0].attention_keys is not None


def test_a_state_pickled_between_calls_tracks_exactly_like_one_that_stayed(tiny_predictor):
    """The state crosses a process boundary after every call (as in a ZeroGPU app), with
    memories spilled to disk, and gives the same masks bit for bit."""
    frames = np.stack(synthetic_frames(10))
    policy = MemoryPolicy(resident_memory_frames=1)
    _, stayed = run_session(tiny_predictor, frames, policy=policy)
    owner = TensorSpill()
    crossings = []

    def crossed(state):
        state.spill = state.spill or owner
        copy = pickle.loads(pickle.dumps(state.to("cpu")))
        assert not copy.cached_features and copy.spill is not owner and not copy.spill.owner
        crossings.append(copy)
        return copy

    _, moved = run_session(tiny_predictor, frames, between_calls=crossed, policy=policy)
    assert crossings[-1].memory_policy == policy
    assert len(moved) == len(stayed)
    for expected, got in zip(stayed, moved):
        assert torch.equal(expected, got)
    final = crossings[-1]
    keys = final.spilled_keys()
    assert keys and all(os.path.exists(key) for key in keys)
    # The owner deletes what no state refers to any more; the final state still tracks.
    assert owner.keep_only(keys) > 0
    assert sorted(os.listdir(owner.directory)) == sorted(os.path.basename(k) for k in keys)
    assert len(list(tiny_predictor.propagate_in_video(final, start_frame_idx=0))) == 10
    owner.close()
    assert not os.path.exists(owner.directory)


def test_a_callers_spill_folder_serves_every_copy_and_is_tidied_and_kept(tiny_predictor, tmp_path):
    """Through the public API (MemoryPolicy.spill_dir, sam2.state_storage): a state rests and
    crosses to another process after every call, gives the masks of one that stayed, and
    leaves in the caller's folder only what the current state refers to; releasing the state
    keeps the folder, which is the caller's."""
    frames = np.stack(synthetic_frames(10))
    folder = tmp_path / "session" / "spill"
    policy = MemoryPolicy(resident_memory_frames=1, spill_dir=str(folder))
    _, stayed = run_session(tiny_predictor, frames, policy=MemoryPolicy(resident_memory_frames=1))

    def crossed(state):
        copy = wake(pickle.loads(pickle.dumps(rest(state))), tiny_predictor.device)
        tidy_spill(copy)
        return copy

    final, moved = run_session(tiny_predictor, frames, between_calls=crossed, policy=policy)
    assert all(torch.equal(expected, got) for expected, got in zip(stayed, moved)) and len(moved) == len(stayed)
    tidy_spill(final)  # the last call's copy replaced outputs too
    keys = final.spilled_keys()
    assert keys and sorted(os.listdir(folder)) == sorted(os.path.basename(k) for k in keys)
    assert tracked_frames(final, 1) == list(range(10)) and tracked_frames(final, 7) == []
    release(final)
    assert final.obj_ids == [] and folder.is_dir()
    with pytest.raises(ValueError, match="spill_dir"):
        MemoryPolicy(spill_dir=3)


def test_prompted_frames_are_not_encoded_again_before_tracking(tiny_predictor, monkeypatch):
    state = tiny_predictor.init_state(video_path=np.stack(synthetic_frames(10)))
    encoded = []
    original = tiny_predictor.frame_features
    monkeypatch.setattr(tiny_predictor, "frame_features", lambda images: encoded.append(1) or original(images))
    tiny_predictor.add_new_points_or_box(state, 0, 1, points=[[20, 20]], labels=[1])
    tiny_predictor.add_new_points_or_box(state, 5, 1, points=[[30, 20]], labels=[1])
    assert len(encoded) == 1  # frame 0 was encoded by init_state
    next(iter(tiny_predictor.propagate_in_video(state)))
    assert len(encoded) == 1
    list(tiny_predictor.propagate_in_video(state))
    assert len(encoded) == 1 + 8
    # Tracked frames are read once and not kept (kept ones fragmented the heap): only the
    # prompted frames stay, and the frame source keeps no model input of a tracked frame.
    assert list(state.cached_features) == [0, 5]
    assert state.images.cache_info().currsize <= 2


def test_the_feature_cache_keeps_the_policy_s_number_of_frames(tiny_predictor):
    state = tiny_predictor.init_state(np.stack(synthetic_frames(6)), memory_policy=MemoryPolicy(feature_cache_frames=2))
    for frame_idx in (0, 1, 2, 3):
        tiny_predictor.add_new_points_or_box(state, frame_idx, 1, points=[[20, 20]], labels=[1])
    list(tiny_predictor.propagate_in_video(state))
    assert list(state.cached_features) == [2, 3]


def test_objects_tracked_together_match_each_tracked_alone(tiny_predictor, monkeypatch):
    """Propagation batches objects whose memories share a layout; object 3 is also prompted
    on frame 3, so it attends to two conditioning frames and goes through memory attention
    apart from objects 1 and 2."""
    frames = np.stack(synthetic_frames(8))
    prompts = {1: [(0, [[20, 20]])], 2: [(0, [[45, 30]])], 3: [(0, [[30, 22]]), (3, [[34, 22]])]}
    batch_sizes = []
    original = tiny_predictor.memory_attention.forward
    monkeypatch.setattr(
        tiny_predictor.memory_attention, "forward", lambda **kw: batch_sizes.append(len(kw["memory"])) or original(**kw)
    )

    def track(obj_ids):
        state = tiny_predictor.init_state(video_path=frames)
        for obj_id in obj_ids:
            for frame_idx, points in prompts[obj_id]:
                tiny_predictor.add_new_points_or_box(state, frame_idx, obj_id, points=points, labels=[1])
        return {t: logits for t, _, logits in tiny_predictor.propagate_in_video(state)}

    together = track([1, 2, 3])
    assert batch_sizes[:2] == [2, 1]
    for row, obj_id in enumerate([1, 2, 3]):
        alone = track([obj_id])
        for frame_idx, logits in alone.items():
            torch.testing.assert_close(together[frame_idx][row], logits[0], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_vos_optimized_compiles_once_and_matches_eager(tiny_predictor, precision):
    """The compiled path (meant for GPUs, checked here on CPU) gives the eager masks and is
    not recompiled when the number of clicks changes; also under bf16 autocast, where the
    eager CPU path uses oneDNN's fused linear, which the compiler must not see."""
    import torch._dynamo

    from sam2.assembly.model_builder import build_model
    from sam2.assembly.configs import PRESETS

    compiled = build_model(PRESETS["test_tiny"], SAM2VideoPredictor, vos_optimized=True, binarize_mask_from_pts_for_mem_enc=True)
    compiled.load_state_dict(tiny_predictor.state_dict())
    compiled.eval()
    frames = np.stack(synthetic_frames(5))

    def session(predictor, more_clicks: bool):
        state = predictor.init_state(video_path=frames)
        outputs = [predictor.add_new_points_or_box(state, 0, 1, points=[[20, 20]], labels=[1])[2]]
        if more_clicks:
            outputs.append(
                predictor.add_new_points_or_box(state, 0, 1, points=[[24, 22]], labels=[1], clear_old_points=False)[2]
            )
        outputs += [m for _, _, m in predictor.propagate_in_video(state)]
        if more_clicks:
            outputs.append(
                predictor.add_new_points_or_box(state, 3, 1, points=[[30, 20], [5, 5], [40, 40]], labels=[1, 0, 0])[2]
            )
        return outputs

    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16")
    torch._dynamo.reset()
    with autocast:
        session(compiled, more_clicks=False)
        graphs = torch._dynamo.utils.counters["stats"]["unique_graphs"]
        got = session(compiled, more_clicks=True)
        assert graphs > 0 and torch._dynamo.utils.counters["stats"]["unique_graphs"] == graphs
        expected_outputs = session(tiny_predictor, more_clicks=True)
    for expected, actual in zip(expected_outputs, got):
        if precision == "fp32":
            torch.testing.assert_close(actual, expected, atol=1e-3, rtol=1e-3)
        else:  # the compiler fuses and rounds differently: same masks up to bf16 noise
            assert ((actual > 0) == (expected > 0)).float().mean() > 0.99


@pytest.mark.parametrize("opted_in", [False, True])
def test_propagation_trims_the_heap_at_intervals_and_changes_no_setting(tiny_predictor, fake_glibc, opted_in):
    if opted_in:
        assert cpu_allocator.tune_for_cpu_tracking()
    policy = MemoryPolicy(frames_between_trims=3)
    state = tiny_predictor.init_state(video_path=np.stack(synthetic_frames(10)), memory_policy=policy)
    tiny_predictor.add_new_points_or_box(state, 0, 1, points=[[20, 20]], labels=[1])
    assert len(list(tiny_predictor.propagate_in_video(state))) == 10
    assert fake_glibc.count("malloc_trim") == 3  # after frames 3, 6 and 9, opted in or not
    assert fake_glibc.count("mallopt") == (2 if opted_in else 0)  # only the opt-in sets anything


def test_prompts_read_back_in_video_pixels_per_object_and_frame(tiny_predictor, state):
    """Clicks, a box (not two extra points) and a mask come back as given, in video pixels."""
    tiny_predictor.add_new_points_or_box(state, 2, 1, points=[[20, 10], [30, 25]], labels=[1, 0])
    tiny_predictor.add_new_points_or_box(state, 0, "cat", box=[5, 6, 40, 30], points=[[12, 14]], labels=[1])
    tiny_predictor.add_new_mask(state, 1, 1, np.ones((state["video_height"], state["video_width"]), bool))
    prompts = tiny_predictor.get_prompts(state)
    assert [(p.obj_id, p.frame_idx) for p in prompts] == [(1, 1), (1, 2), ("cat", 0)]
    mask, clicks, boxed = prompts
    assert mask.has_mask and mask.points.shape == (0, 2) and mask.box is None
    np.testing.assert_allclose(clicks.points, [[20, 10], [30, 25]], atol=1e-3)
    assert clicks.labels.tolist() == [1, 0] and clicks.box is None and not clicks.has_mask
    np.testing.assert_allclose(boxed.box, (5, 6, 40, 30), atol=1e-3)
    np.testing.assert_allclose(boxed.points, [[12, 14]], atol=1e-3)
    assert boxed.labels.tolist() == [1]
    only = tiny_predictor.get_prompts(state, obj_id=1, frame_idx=2)
    assert len(only) == 1 and only[0].labels.tolist() == [1, 0]
    nothing = tiny_predictor.get_prompts(state, obj_id=1, frame_idx=3)
    assert len(nothing) == 1 and nothing[0].points.shape == (0, 2) and not nothing[0].has_mask
    assert tiny_predictor.prompted_frames(state) == [0, 1, 2]
    assert tiny_predictor.prompted_frames(state, "cat") == [0]
