"""What each user action does, as plain functions over a Session and the model calls.

No Gradio here. A handler that changes what the viewer should show returns a
:class:`FrameView`, and the viewer and the frame number are always updated together from it,
so the frame the page names is the frame it shows, and a click lands on the frame shown.
"""

import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List, Optional

import numpy as np

from . import exports
from .errors import UserError
from .model_calls import ModelCalls, PromptEdit, TrackDone, TrackRun
from .overlay import draw_masks, draw_prompts
from .prompts import Click, FramePrompts
from .session import Session, SessionFiles, VideoClip, new_work_dir
from .settings import Limits
from .video_input import BadVideo, display_name, prepare_video
from .video_io import ChunkStreamer, write_mp4

INCLUDE, EXCLUDE, BOX = "include", "exclude", "box"
# While tracking, the viewer shows a new frame at most this often (every frame still streams).
VIEW_INTERVAL_SECONDS = 0.25


@dataclass(frozen=True)
class FrameView:
    """A frame number and that frame drawn with its masks and the current object's prompts."""

    frame_idx: int
    image: np.ndarray


@dataclass(frozen=True)
class TrackUpdate:
    """One step of tracking: progress, the viewer's new frame (if due) and a finished stream
    chunk (if any)."""

    frame_idx: int
    done: int
    total: int
    frames_per_second: float
    view: Optional[FrameView]
    chunk: Optional[Path]

    @property
    def text(self) -> str:
        return f"Tracking: frame {self.frame_idx} ({self.done} of {self.total}), {self.frames_per_second:.2f} frames/s"


@dataclass(frozen=True)
class ExportFiles:
    overlay_video: Path
    mask_pngs: Path
    davis_pngs: Path
    coco_json: Path

    def as_list(self) -> List[str]:
        return [str(self.overlay_video), str(self.mask_pngs), str(self.davis_pngs), str(self.coco_json)]


# ------------------------------------------------------------------------------- video
def open_video(calls: ModelCalls, path: str, model_id: Optional[str] = None, limits: Limits = Limits(),
               output_root: Optional[Path] = None) -> Session:
    """Open an uploaded video within ``limits`` (its first frame encoded, so the first click is
    quick). What was changed to fit the limits is in ``session.video.notices``."""
    if not path:
        raise UserError("Choose a video file first.")
    engine = calls.engine(model_id)
    model_id = model_id or calls.engines.default_model_id
    work_dir = new_work_dir()
    try:
        video = prepare_video(Path(path), work_dir, limits)
        try:
            state = calls.open_video(model_id, video.frames)
        except BaseException:
            video.frames.close()
            raise
    except BaseException as error:
        shutil.rmtree(work_dir, ignore_errors=True)
        if isinstance(error, BadVideo):
            raise UserError(str(error)) from error
        raise
    frames = video.frames
    clip = VideoClip(display_name(Path(path).name), frames.video_width, frames.video_height, frames.num_frames,
                     frames.fps or 30.0, tuple(video.notices))
    return Session(clip, frames, model_id, engine.predictor.image_size, state, SessionFiles(work_dir, output_root),
                   limits)


def video_info(session: Session) -> str:
    """One line about the video, then what was changed to fit the app's limits (if anything)."""
    video = session.video
    line = (f"{video.name}: {video.width}x{video.height}, {video.num_frames} frames, {video.fps:.2f} fps, "
            f"{video.num_frames / video.fps:.1f} s")
    return "\n\n".join([line, *video.notices])


def _overlay(session: Session, frame_idx: int) -> np.ndarray:
    return draw_masks(session.frames.read_rgb(frame_idx), session.masks.unpacked(frame_idx))


def _with_prompts(session: Session, frame_idx: int, overlay: np.ndarray) -> FrameView:
    prompts = session.prompts(session.objects.current, frame_idx)
    corner = session.view.pending_corner
    corner = corner[1:] if corner and corner[0] == frame_idx else None
    session.view.shown_frame = frame_idx
    return FrameView(frame_idx, draw_prompts(overlay, prompts.clicks, prompts.box, corner))


def show(session: Session, frame_idx) -> FrameView:
    """The frame with every object's mask and the current object's prompts; clicks go there."""
    frame_idx = session.video.check_frame(frame_idx)
    return _with_prompts(session, frame_idx, _overlay(session, frame_idx))


def step(session: Session, offset: int) -> FrameView:
    """The frame ``offset`` frames from the shown one (kept within the video)."""
    frame_idx = session.view.shown_frame + offset
    return show(session, min(max(frame_idx, 0), session.video.num_frames - 1))


# ----------------------------------------------------------------------------- prompts
def _edit(calls: ModelCalls, session: Session, frame_idx: int, prompts: FramePrompts) -> FrameView:
    """Make ``prompts`` the current object's prompts on the frame and show the result."""
    obj_id = session.objects.current
    edit = PromptEdit(obj_id, frame_idx, prompts.clicks, prompts.box)
    result = calls.edit_prompts(session.model_id, session.state, edit)
    session.adopt(result.state)
    if result.object_removed:
        session.masks.forget_object(obj_id)
    else:
        session.masks.put(frame_idx, result.masks)
    session.mark_dirty(frame_idx)
    return show(session, frame_idx)


def click(calls: ModelCalls, session: Session, x: float, y: float, mode: str, frame_idx=None) -> FrameView:
    """A click on the shown frame (or on ``frame_idx``): include/exclude point, or a box corner."""
    frame_idx = session.view.shown_frame if frame_idx is None else session.video.check_frame(frame_idx)
    height, width = session.video.size
    if not (0 <= x <= width and 0 <= y <= height):
        raise UserError(f"The click ({x:.0f}, {y:.0f}) is outside the {width}x{height} frame.")
    prompts = session.prompts(session.objects.current, frame_idx)
    if mode == BOX:
        corner = session.view.pending_corner
        if corner is None or corner[0] != frame_idx:
            session.view.pending_corner = (frame_idx, x, y)
            return show(session, frame_idx)
        _, x0, y0 = corner
        session.view.pending_corner = None
        if abs(x - x0) < 2 or abs(y - y0) < 2:
            raise UserError("The box is too small: click two opposite corners.")
        return _edit(calls, session, frame_idx, prompts.with_box((min(x0, x), min(y0, y), max(x0, x), max(y0, y))))
    if mode not in (INCLUDE, EXCLUDE):
        raise UserError(f"Unknown click mode {mode!r}.")
    if len(prompts.clicks) >= session.limits.max_points:
        raise UserError(f"At most {session.limits.max_points} points per object on one frame: "
                        "undo one, or add another object.")
    return _edit(calls, session, frame_idx, prompts.with_click(Click(x, y, mode == INCLUDE)))


def undo(calls: ModelCalls, session: Session) -> FrameView:
    """Remove the current object's last click on the shown frame (or its box when no click is left)."""
    frame_idx = session.view.shown_frame
    session.view.pending_corner = None
    prompts = session.prompts(session.objects.current, frame_idx)
    if prompts.empty:
        raise UserError("Nothing to undo on this frame for the current object.")
    return _edit(calls, session, frame_idx, prompts.without_last())


def clear_object(calls: ModelCalls, session: Session) -> FrameView:
    """Forget the current object's prompts and masks (the object stays, selected)."""
    obj_id = session.objects.current
    session.adopt(calls.remove_object(session.model_id, session.state, obj_id))
    session.masks.forget_object(obj_id)
    session.view.pending_corner = None
    return show(session, session.view.shown_frame)


def reset_all(calls: ModelCalls, session: Session) -> FrameView:
    """Forget every object, prompt and result; start again with object 1."""
    session.adopt(calls.reset(session.model_id, session.state))
    session.masks.clear()
    session.objects.ids, session.objects.current = [1], 1
    session.view.pending_corner = None
    session.dirty_from = None
    return show(session, session.view.shown_frame)


# ----------------------------------------------------------------------------- objects
def add_object(session: Session) -> FrameView:
    """Start a new object and make it current."""
    if len(session.objects.ids) >= session.limits.max_objects:
        raise UserError(f"At most {session.limits.max_objects} objects can be tracked at once.")
    session.objects.add()
    session.view.pending_corner = None
    return show(session, session.view.shown_frame)


def select_object(session: Session, obj_id) -> FrameView:
    obj_id = int(obj_id)
    if obj_id not in session.objects.ids:
        raise UserError(f"There is no object {obj_id}.")
    session.objects.current = obj_id
    session.view.pending_corner = None
    return show(session, session.view.shown_frame)


def remove_object(calls: ModelCalls, session: Session) -> FrameView:
    """Delete the current object with its prompts and masks (the last one is emptied instead)."""
    obj_id = session.objects.current
    session.adopt(calls.remove_object(session.model_id, session.state, obj_id))
    session.masks.forget_object(obj_id)
    session.objects.remove(obj_id)
    session.view.pending_corner = None
    return show(session, session.view.shown_frame)


# ------------------------------------------------------------------------------ tracking
def _track_runs(calls: ModelCalls, session: Session) -> List[TrackRun]:
    """Forward from the earliest changed frame, then backward to frame 0 for objects whose
    first prompt is later; each split into calls as long as one model call may take."""
    prompted = session.prompted_frames()
    if not prompted:
        raise UserError("Click on the object to track first.")
    start = prompted[0] if session.dirty_from is None else session.dirty_from
    runs = [TrackRun(start, False, session.video.num_frames - start)]
    backward = session.backward_start()
    if backward is not None:
        runs.append(TrackRun(backward, True, backward + 1))
    per_call = calls.frames_per_track_call(len(session.state.objects))
    return [chunk for run in runs for chunk in (run.chunks(per_call) if per_call else [run])]


def track(calls: ModelCalls, session: Session, stream_seconds: float = 1.0) -> Iterator[TrackUpdate]:
    """Track every object, one update per frame. Stops within a frame when asked (what was
    tracked is kept)."""
    runs = _track_runs(calls, session)
    stop = session.files.stop
    stop.clear()
    total = sum(run.count for run in runs)
    stream_folder = session.files.work_dir / f"stream_{time.monotonic_ns()}"
    streamer = ChunkStreamer(stream_folder, session.video.fps, stream_seconds)
    done, began, viewed = 0, time.monotonic(), 0.0
    frame_idx = overlay = None
    try:
        for run in runs:
            for event in calls.track(session.model_id, session.state, run, stop):
                if isinstance(event, TrackDone):
                    session.adopt(event.state)
                    continue
                frame_idx, done = event.frame_idx, done + 1
                session.masks.put(frame_idx, event.masks)
                overlay = _overlay(session, frame_idx)
                chunk = streamer.add(overlay)
                view = None
                if time.monotonic() - viewed >= VIEW_INTERVAL_SECONDS:
                    view, viewed = _with_prompts(session, frame_idx, overlay), time.monotonic()
                yield TrackUpdate(frame_idx, done, total, done / (time.monotonic() - began), view, chunk)
            if stop.requested:
                break
        if frame_idx is not None:
            yield TrackUpdate(frame_idx, done, total, done / max(time.monotonic() - began, 1e-6),
                              _with_prompts(session, frame_idx, overlay), streamer.flush())
    finally:
        # Every chunk was read before we were resumed (or abandoned): the stream's files can go.
        shutil.rmtree(streamer.folder, ignore_errors=True)
    if not stop.requested:
        session.dirty_from = None


def request_stop(session: Session) -> None:
    session.files.stop.request()


# ------------------------------------------------------------------------------- exports
def overlay_video(session: Session) -> Path:
    """The whole video with masks drawn on it (H.264 mp4, original fps and size)."""
    path = session.files.output_path(f"{Path(session.video.name).stem}_overlay.mp4")
    frames = (_overlay(session, frame_idx) for frame_idx in range(session.video.num_frames))
    return write_mp4(path, frames, session.video.fps)


def export_all(session: Session) -> ExportFiles:
    """Overlay video, per-object PNG masks, DAVIS indexed PNGs and COCO RLE JSON."""
    frames = session.tracked_frames()
    if not frames:
        raise UserError("Nothing to export yet: track the objects first.")
    stem = Path(session.video.name).stem
    masks_on, output_path = session.masks.unpacked, session.files.output_path
    return ExportFiles(
        overlay_video=overlay_video(session),
        mask_pngs=exports.write_mask_pngs(output_path(f"{stem}_masks.zip"), frames, masks_on),
        davis_pngs=exports.write_davis_pngs(output_path(f"{stem}_davis.zip"), frames, masks_on, session.video.size),
        coco_json=exports.write_coco_rle(output_path(f"{stem}_coco_rle.json"), frames, masks_on,
                                         session.video.name, session.video.size, session.video.fps),
    )
