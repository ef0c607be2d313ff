"""The app under ZeroGPU's contract, through the strict stand-in of ``spaces.GPU``: a forked
process per call, arguments and results pickled both ways."""

import os
import pickle
import threading

import gradio as gr
import numpy as np
import pytest

from conftest import model_calls_for, synthetic_frames
from sam2.runtime.memory_policy import MemoryPolicy
from tracker.actions import finding, opening, prompting, roster, showing, tracking
from tracker.actions.compare import compare
from tracker.errors import ModelCallFailed
from tracker.page.events import page_handler
from tracker.model.calls import GpuBudget, ModelChoice
from tracker.media.video_io import write_mp4
from oracle.zerogpu import zero_gpu


# ---------------------------------------------------------------- the stand-in itself
def test_each_call_runs_in_a_new_process_and_changes_to_arguments_stay_there(monkeypatch):
    with zero_gpu(monkeypatch) as spaces:
        @spaces.GPU(duration=5)
        def grow(items):
            items.append(os.getpid())
            return len(items)

        items = []
        assert grow(items) == 1 and grow(items) == 1
        assert items == [] and spaces.CALLS[-1].function == "grow"

        @spaces.GPU(duration=5)
        def worker_pid():
            return os.getpid()

        assert len({worker_pid(), worker_pid(), os.getpid()}) == 3


def test_what_cannot_pickle_cannot_cross(monkeypatch):
    with zero_gpu(monkeypatch) as spaces:
        @spaces.GPU(duration=5)
        def touch(value):
            return value

        with pytest.raises(TypeError, match="pickle"):
            touch(threading.RLock())

        @spaces.GPU(duration=5)
        def give_back_a_lock():
            return threading.Lock()

        with pytest.raises(gr.Error, match="TypeError"):
            give_back_a_lock()


def test_the_app_session_of_the_page_cannot_cross(monkeypatch, tiny_calls, tmp_path):
    """Before model calls took the model state alone, the page's handlers ran under
    ``spaces.GPU`` with the whole session (locks, an open decoder) as argument and result:
    ZeroGPU failed at the first upload with "cannot pickle '_thread.RLock' object"."""
    video = str(write_mp4(tmp_path / "square.mp4", synthetic_frames(4), fps=10))
    session = opening.open_video(tiny_calls, video)
    with zero_gpu(monkeypatch) as spaces:
        @spaces.GPU(duration=5)
        def old_style_click(session):
            return session

        with pytest.raises(TypeError, match="RLock|lock"):
            old_style_click(session)
    with pytest.raises(TypeError):
        pickle.dumps(session)
    session.close()


def test_errors_keep_their_message_only_as_gr_error_and_durations_are_required(monkeypatch):
    with zero_gpu(monkeypatch) as spaces:
        @spaces.GPU(duration=lambda n: 2 * n)
        def fail(n):
            raise ValueError("a message that ZeroGPU does not forward")

        with pytest.raises(gr.Error) as raised:
            fail(3)
        assert raised.value.message == "ValueError" and "does not forward" not in str(raised.value)
        assert spaces.CALLS[-1].duration == 6

        @spaces.GPU(duration=5)
        def refuse():
            raise gr.Error("shown as it is")

        with pytest.raises(gr.Error, match="shown as it is"):
            refuse()
        with pytest.raises(TypeError, match="duration"):
            spaces.GPU(lambda: None)


def test_closing_a_generator_stops_the_worker(monkeypatch):
    with zero_gpu(monkeypatch) as spaces:
        @spaces.GPU(duration=5)
        def count():
            for n in range(1000):
                yield n

        numbers = count()
        assert [next(numbers), next(numbers)] == [0, 1]
        numbers.close()
        assert len(spaces.CALLS[-1].result_bytes) < 1000


# ---------------------------------------------------------- the app's model calls under it
def scripted_session(calls, video):
    """Two objects, Track, a correction on frame 5, Track again; returns the session and every
    mask the page showed, in order."""
    session = opening.open_video(calls, video)
    shown = [prompting.click(calls, session, 20, 20, prompting.INCLUDE).image]
    roster.add_object(session)
    shown.append(prompting.click(calls, session, 50, 40, prompting.INCLUDE).image)
    shown += [u.view.image for u in tracking.track(calls, session)]
    showing.show(session, 5)
    shown.append(prompting.click(calls, session, 45, 30, prompting.EXCLUDE).image)
    shown += [u.view.image for u in tracking.track(calls, session)]
    return session, shown


@pytest.fixture()
def video(tmp_path):
    return str(write_mp4(tmp_path / "square.mp4", synthetic_frames(10), fps=10))


def test_a_session_under_zero_gpu_equals_one_in_process(monkeypatch, tiny_engine, video):
    """The whole flow with every model call in a forked worker (tracking split into calls of
    three frames) shows the same masks as in-process; the model state crosses on the CPU."""
    monkeypatch.setattr(tracking, "VIEW_INTERVAL_SECONDS", 0.0)
    monkeypatch.setattr(tiny_engine, "memory_policy", MemoryPolicy(resident_memory_frames=2))
    local, local_shown = scripted_session(model_calls_for(tiny_engine), video)
    budget = GpuBudget(track_overhead_seconds=0, track_seconds_per_frame=1, track_seconds_per_frame_and_object=0,
                       max_call_seconds=3)
    with zero_gpu(monkeypatch) as spaces:
        calls = model_calls_for(tiny_engine, budget)
        assert calls.crosses_processes and calls.frames_per_track_call(2) == 3
        remote, remote_shown = scripted_session(calls, video)
        names = [call.function for call in spaces.CALLS]
    assert names[:3] == ["_open_video", "_edit_prompts", "_edit_prompts"]
    assert names.count("_track") == 4 + 2  # 10 frames in calls of 3, then frames 5-9
    assert len(local_shown) == len(remote_shown)
    for a, b in zip(local_shown, remote_shown):
        assert np.array_equal(a, b)
    for frame in range(10):
        assert local.masks.packed(frame) == remote.masks.packed(frame)
    assert remote.state.device.type == "cpu" and not remote.state.cached_features
    # Only memories the returned state refers to stay on disk.
    assert sorted(os.listdir(remote.files.spill_dir)) == sorted(
        os.path.basename(k) for k in remote.state.spilled_keys())
    local.close()
    remote.close()


def mask_and_compare_session(calls, video):
    """A mask prompt on frame 2, Track, then Compare with the same model at 64 px; returns the
    session, the masks the page showed and the IoU table."""
    session = opening.open_video(calls, video)
    showing.show(session, 2)
    mask = np.zeros(session.video.size, dtype=bool)
    mask[12:32, 14:30] = True
    shown = [prompting.mask_prompt(calls, session, mask).image]
    shown += [u.view.image for u in tracking.track(calls, session)]
    comparison = list(compare(calls, session, ModelChoice(session.model.model_id, 64)))[-1]
    return session, shown, comparison.rows


def test_mask_prompts_and_compare_under_zero_gpu_equal_in_process(monkeypatch, tiny_engine, video):
    monkeypatch.setattr(tracking, "VIEW_INTERVAL_SECONDS", 0.0)
    local, local_shown, local_rows = mask_and_compare_session(model_calls_for(tiny_engine), video)
    with zero_gpu(monkeypatch) as spaces:
        remote, remote_shown, remote_rows = mask_and_compare_session(model_calls_for(tiny_engine), video)
        names = [call.function for call in spaces.CALLS]
    assert names.count("_edit_prompts") == 2, "the mask prompt, then the same mask for the compared model"
    assert all(np.array_equal(a, b) for a, b in zip(local_shown, remote_shown)) and len(local_shown) == len(remote_shown)
    assert local_rows == remote_rows and len(local_rows) == 11
    local.close()
    remote.close()


def test_an_error_in_the_worker_reaches_the_page_as_a_clear_message(monkeypatch, tiny_engine, video):
    with zero_gpu(monkeypatch):
        calls = model_calls_for(tiny_engine)
        session = opening.open_video(calls, video)

        def broken(*args, **kwargs):
            raise RuntimeError("CUDA error: device-side assert triggered")

        monkeypatch.setattr(tiny_engine.predictor, "add_new_points_or_box", broken)
        with pytest.raises(ModelCallFailed):
            prompting.click(calls, session, 20, 20, prompting.INCLUDE)
        with pytest.raises(gr.Error, match=r"Something went wrong \(RuntimeError\)\. Your work so far is kept\."):
            page_handler(prompting.click)(calls, session, 20, 20, prompting.INCLUDE)
    assert session.state.obj_ids == [] and session.masks.unpacked(0) == {}
    session.close()


def test_stop_reaches_the_worker_and_keeps_what_was_tracked(monkeypatch, tiny_engine, video):
    with zero_gpu(monkeypatch):
        calls = model_calls_for(tiny_engine)
        session = opening.open_video(calls, video)
        prompting.click(calls, session, 20, 20, prompting.INCLUDE)
        done = []
        for update in tracking.track(calls, session):
            done.append(update.frame_idx)
            if len(done) == 2:
                tracking.request_stop(session)
    tracked = session.tracked_frames()
    assert 2 <= len(tracked) < 10 and tracked == list(range(len(tracked))) and session.dirty_from == 0
    assert sorted(session.state.objects[0].frames_tracked) == tracked, "the worker's state came back"
    session.close()


def find_and_keep(calls, video):
    """Find "dog, ball" on frame 0 and keep the first two boxes; returns the session, the frame
    with the offer drawn and the offer's labels."""
    session = opening.open_video(calls, video)
    view, labels = finding.find(calls, session, "dog, ball", 0.0)
    finding.accept(calls, session, labels[:2])
    return session, view.image, labels


def test_find_by_text_under_zero_gpu_equals_in_process(monkeypatch, tiny_engine, video, tmp_path):
    """The detector runs in the worker on the frame the app sends; the found boxes come back."""
    pytest.importorskip("transformers")
    from text_detector import save_tiny_grounding_dino

    environ = {"SAM2_TEXT_DETECTOR": str(save_tiny_grounding_dino(tmp_path / "detector"))}
    local, local_image, local_labels = find_and_keep(model_calls_for(tiny_engine, environ=environ), video)
    with zero_gpu(monkeypatch) as spaces:
        remote, remote_image, remote_labels = find_and_keep(model_calls_for(tiny_engine, environ=environ), video)
        names = [call.function for call in spaces.CALLS]
    assert names == ["_open_video", "_find_text", "_edit_prompts", "_edit_prompts"]
    assert local_labels == remote_labels and len(local_labels) > 2 and np.array_equal(local_image, remote_image)
    assert local.masks.packed(0) == remote.masks.packed(0) and len(remote.masks.packed(0)) == 2
    local.close()
    remote.close()
