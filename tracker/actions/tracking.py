"""Track: every object over the window with progress, the viewer following and the overlay
video growing, Stop, and the finished overlay video of what was tracked."""

import shutil
import time
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Iterator, List, Optional

import numpy as np
from sam2.tracking import TRACKER_NAMES

from ..media.overlay import draw_legend
from ..media.video_io import AudioClip, write_mp4
from ..model.calls import ModelCalls, TrackDone
from ..sessions.session import Session, TrackSpeed
from ..wording import plural
from . import finding
from .showing import FrameView, masks_on, show
from .track_plan import track_runs
from .track_progress import FrameCounter, SpeedMeter

# While tracking, the viewer shows a new frame at most this often.
VIEW_INTERVAL_SECONDS = 0.25
# While tracking, the overlay video grows by pieces of about this many seconds of video.
STREAM_PIECE_SECONDS = 2.0


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
    piece: Optional[Path] = None  # the overlay video's next piece, when one is due
    revised: int = 0  # frames whose masks the tracker replaced when its run ended (SAM2Long)
    found: int = 0  # objects that looking again by text added while tracking

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


class OverlayStream:
    """The overlay video as Track makes it: the frames tracked forward, in order, as short mp4
    pieces of ``piece_frames`` frames in ``folder`` (a piece is read before the next is asked
    for, so only the newest is kept). Frames out of order (a backward pass) are left to the
    finished video."""

    def __init__(self, session: Session, folder: Path, piece_frames: int) -> None:
        self.session = session
        self.folder = folder
        self.piece_frames = piece_frames
        self.pending: List[int] = []
        self.next_frame: Optional[int] = None
        self.pieces = 0
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)

    def add(self, frame_idx: int) -> Optional[Path]:
        """Take a tracked frame; returns a piece when one is full."""
        if self.next_frame is not None and frame_idx != self.next_frame:
            return None
        self.pending.append(frame_idx)
        self.next_frame = frame_idx + 1
        return self.flush() if len(self.pending) >= self.piece_frames else None

    def flush(self) -> Optional[Path]:
        """The frames taken since the last piece, as a piece (None: none)."""
        if not self.pending:
            return None
        path = self.folder / f"piece-{self.pieces}.mp4"
        (self.folder / f"piece-{self.pieces - 1}.mp4").unlink(missing_ok=True)
        self.pieces += 1
        frames, self.pending = [overlay_frame(self.session, f) for f in self.pending], []
        return write_mp4(path, frames, self.session.video.fps)


def overlay_stream(session: Session) -> OverlayStream:
    piece_frames = max(1, round(session.video.fps * STREAM_PIECE_SECONDS))
    return OverlayStream(session, session.files.work_dir / "overlay-stream", piece_frames)


def track(calls: ModelCalls, session: Session, stream: bool = False) -> Iterator[TrackUpdate]:
    """Track every object over the window, one update per frame (the viewer's frame at most
    every ``VIEW_INTERVAL_SECONDS``; with ``stream``, the overlay video's pieces as they are
    due). Stops within a frame when asked; what was tracked is kept. With "look again every N
    frames" (Find by text), forward runs stop every N frames to look for the last query's
    things: new ones become objects, tracked from there on."""
    per_call = calls.frames_per_track_call(len(session.state.obj_ids))
    runs = track_runs(session.state, session.window, session.dirty_from, per_call)
    every = finding.look_every(session)
    if every:
        runs = [piece for run in runs for piece in ([run] if run.reverse else run.chunks(every))]
    found = []
    stop = session.files.stop
    stop.clear()
    counter, speed = FrameCounter(runs), SpeedMeter()
    pieces = overlay_stream(session) if stream else None
    began, viewed, frame_idx, revised = time.monotonic(), 0.0, None, set()
    for position, run in enumerate(runs):
        for event in calls.track(session.model, session.state, run, stop):
            if isinstance(event, TrackDone):
                session.adopt(event.state)
                continue
            frame_idx = event.frame_idx
            session.masks.put(frame_idx, event.masks)
            if event.revised:  # the run's results revised at its end: no step of the model
                revised.add(event.frame_idx)
                continue
            counter.add(frame_idx)
            speed.add(counter.steps)
            view = None
            if time.monotonic() - viewed >= VIEW_INTERVAL_SECONDS:
                view, viewed = show(session, frame_idx), time.monotonic()
            yield TrackUpdate(frame_idx, counter.done, counter.total, counter.percent, counter.steps_left,
                              speed.frames_per_second, view, pieces.add(frame_idx) if pieces else None)
        if stop.requested:
            break
        last = run.frames[-1]
        if every and not run.reverse and last < session.window.last and position + 1 < len(runs):
            found += finding.look_again(calls, session, last)
    if frame_idx is not None:
        seconds = time.monotonic() - began
        session.last_track = TrackSpeed(session.model, counter.steps, seconds)
        yield TrackUpdate(frame_idx, counter.done, counter.total, counter.percent, counter.steps_left,
                          counter.steps / max(seconds, 1e-6), show(session, frame_idx),
                          pieces.flush() if pieces else None, len(revised), len(found))
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


def tracker_tag(session: Session) -> str:
    """The part of export names that says which tracker made the masks ("_samurai"); none
    for SAM 2's own."""
    return "" if session.model.tracker == TRACKER_NAMES[0] else f"_{session.model.tracker}"


def window_stem(session: Session) -> str:
    return f"{Path(session.video.name).stem}_f{session.window.start}-{session.window.last}{tracker_tag(session)}"


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
    return session.files.publish(f"{Path(session.video.name).stem}_f{span.start}-{span.stop - 1}{tracker_tag(session)}"
                                 "_overlay.mp4",
                                 lambda path: write_mp4(path, frames, session.video.fps, sound(session, span)))
