"""Track: every object over the window with progress and the viewer following, Stop, and the
overlay video of what was tracked."""

import time
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Iterator, List, Optional

import numpy as np

from ..media.overlay import draw_legend
from ..media.video_io import AudioClip, write_mp4
from ..model.calls import ModelCalls, TrackDone
from ..sessions.session import Session, TrackSpeed
from ..wording import plural
from .showing import FrameView, masks_on, show
from .track_plan import track_runs
from .track_progress import FrameCounter, SpeedMeter

# While tracking, the viewer shows a new frame at most this often.
VIEW_INTERVAL_SECONDS = 0.25


def _time_text(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds} s" if seconds < 60 else f"{seconds // 60} min {seconds % 60:02d} s"


@dataclass(frozen=True)
class TrackUpdate:
    """One step of tracking: progress and the viewer's new frame (if due)."""

    frame_idx: int
    done: int  # frames of the press tracked so far, each counted once
    total: int
    percent: int  # of the model's steps (a frame tracked forward and then back is two)
    steps_left: int
    frames_per_second: Optional[float]  # steps per second; None until measured over a few
    view: Optional[FrameView]

    @property
    def seconds_left(self) -> Optional[float]:
        if self.frames_per_second is None:
            return None
        return self.steps_left / max(self.frames_per_second, 1e-6)

    @property
    def text(self) -> str:
        line = f"Tracking frame {self.frame_idx}: {self.done} of {plural(self.total, 'frame')} ({self.percent}%), "
        if self.seconds_left is None:
            return line + "measuring the speed..."
        return line + f"{self.frames_per_second:.2f} frames/s, about {_time_text(self.seconds_left)} left"


def track(calls: ModelCalls, session: Session) -> Iterator[TrackUpdate]:
    """Track every object over the window, one update per frame (the viewer's frame at most
    every ``VIEW_INTERVAL_SECONDS``). Stops within a frame when asked; what was tracked is kept."""
    per_call = calls.frames_per_track_call(len(session.state.obj_ids))
    runs = track_runs(session.state, session.window, session.dirty_from, per_call)
    stop = session.files.stop
    stop.clear()
    counter, speed = FrameCounter(runs), SpeedMeter()
    began, viewed, frame_idx = time.monotonic(), 0.0, None
    for run in runs:
        for event in calls.track(session.model, session.state, run, stop):
            if isinstance(event, TrackDone):
                session.adopt(event.state)
                continue
            frame_idx = event.frame_idx
            counter.add(frame_idx)
            speed.add(counter.steps)
            session.masks.put(frame_idx, event.masks)
            view = None
            if time.monotonic() - viewed >= VIEW_INTERVAL_SECONDS:
                view, viewed = show(session, frame_idx), time.monotonic()
            yield TrackUpdate(frame_idx, counter.done, counter.total, counter.percent, counter.steps_left,
                              speed.frames_per_second, view)
        if stop.requested:
            break
    if frame_idx is not None:
        seconds = time.monotonic() - began
        session.last_track = TrackSpeed(session.model, counter.steps, seconds)
        yield TrackUpdate(frame_idx, counter.done, counter.total, counter.percent, counter.steps_left,
                          counter.steps / max(seconds, 1e-6), show(session, frame_idx))
    if not stop.requested:
        session.dirty_from = None


def request_stop(session: Session) -> None:
    session.files.stop.request()


# ------------------------------------------------------------------------------- exports
def legend(session: Session) -> List[tuple]:
    return [(obj_id, session.objects.name(obj_id)) for obj_id in session.objects.ids]


def overlay_frame(session: Session, frame_idx: int) -> np.ndarray:
    """A frame with its masks and the objects' legend, as in the overlay video."""
    return draw_legend(masks_on(session, frame_idx), legend(session))


def window_stem(session: Session) -> str:
    return f"{Path(session.video.name).stem}_f{session.window.start}-{session.window.last}"


def sound(session: Session, frames: Optional[range] = None) -> AudioClip:
    """The upload's sound over ``frames`` (default: the window; none when the upload has no sound)."""
    frames = frames if frames is not None else range(*astuple(session.window))
    return AudioClip.for_frames(session.files.upload(), session.video.frame_times, frames, session.video.fps)


def tracked_span(session: Session) -> range:
    """The window's frames from its first to its last tracked one (the whole window before any
    Track): what a Track that was stopped early produced."""
    tracked = session.tracked_frames()
    return range(tracked[0], tracked[-1] + 1) if tracked else range(*astuple(session.window))


def overlay_video(session: Session) -> Path:
    """The tracked span of the window with masks and a legend drawn on it (H.264 mp4, original
    fps and size, the upload's sound); its name carries the span's source frames."""
    span = tracked_span(session)
    frames = (overlay_frame(session, frame_idx) for frame_idx in span)
    return session.files.publish(f"{Path(session.video.name).stem}_f{span.start}-{span.stop - 1}_overlay.mp4",
                                 lambda path: write_mp4(path, frames, session.video.fps, sound(session, span)))
