"""Which frames a Track press covers: forward through the window from the earliest changed
frame, then backward to the window's start for objects first prompted later in it."""

from typing import List, Optional

from sam2.sam2_video_predictor import InferenceState

from ..errors import UserError
from ..model.calls import TrackRun
from ..model.prompts import prompted_frames, tracked_frames
from ..sessions.window import FrameWindow


def backward_start(state: InferenceState, window: FrameWindow) -> Optional[int]:
    """Where a backward pass must begin so that every object reaches the window's start: the
    latest first prompt in the window of the objects that do not yet (None: all do)."""
    firsts = []
    for obj_id in state.obj_ids:
        reached = tracked_frames(state, obj_id)
        frames = [f for f in prompted_frames(state, obj_id) if f in window]
        if frames and window.start not in reached:
            firsts.append(frames[0])
    return max(firsts) if firsts and max(firsts) > window.start else None


def track_runs(state: InferenceState, window: FrameWindow, changed_from: Optional[int],
               frames_per_call: Optional[int] = None) -> List[TrackRun]:
    """The runs that track every object over ``window``. Forward from ``changed_from`` (the
    earliest frame whose prompts changed; None: from the first prompt in the window, or its
    start); each run split into calls of at most ``frames_per_call`` frames (None: whole)."""
    prompted = prompted_frames(state)
    if not prompted:
        raise UserError("Click on the object to track first.")
    in_window = [f for f in prompted if f in window]
    if changed_from is not None:
        start = window.clamp(changed_from)
    else:
        start = in_window[0] if in_window else window.start
    runs = [TrackRun(start, False, window.stop - start)]
    backward = backward_start(state, window)
    if backward is not None:
        runs.append(TrackRun(backward, True, backward - window.start + 1))
    return [chunk for run in runs for chunk in (run.chunks(frames_per_call) if frames_per_call else [run])]
