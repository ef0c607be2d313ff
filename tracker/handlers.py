"""Event handlers as plain functions: (engine, session, inputs) -> outputs. No Gradio here."""

import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List, Optional

import numpy as np

from . import exports
from .engine import Engine
from .mask_store import packed_from_logits
from .overlay import Click, draw_masks, draw_prompts
from .session import ObjectPrompts, Session, new_work_dir
from .settings import Limits
from .video_input import BadVideo, display_name, prepare_video
from .video_io import ChunkStreamer, write_mp4

INCLUDE, EXCLUDE, BOX = "include", "exclude", "box"


class UserError(Exception):
    """A problem the user can fix; its message is shown in the page."""


@dataclass
class TrackProgress:
    """One update while tracking: the newest overlay frame, a finished stream chunk (if any)."""

    frame_idx: int
    overlay: np.ndarray
    chunk: Optional[Path]
    done: int
    total: int
    frames_per_second: float

    @property
    def text(self) -> str:
        return f"Tracking: frame {self.frame_idx} ({self.done} of {self.total}), {self.frames_per_second:.2f} frames/s"


@dataclass
class ExportFiles:
    overlay_video: Path
    mask_pngs: Path
    davis_pngs: Path
    coco_json: Path

    def as_list(self) -> List[str]:
        return [str(self.overlay_video), str(self.mask_pngs), str(self.davis_pngs), str(self.coco_json)]


# ------------------------------------------------------------------------------- video
def open_video(engine: Engine, path: str, limits: Limits = Limits(), output_root: Optional[Path] = None) -> Session:
    """Open an uploaded video within ``limits``; encodes its first frame so the first click is
    quick. What was changed to fit the limits is in ``session.notices``."""
    if not path:
        raise UserError("Choose a video file first.")
    work_dir = new_work_dir()
    try:
        video = prepare_video(Path(path), work_dir, limits)
        try:
            with engine.compute():
                state = engine.predictor.init_state(video_path=video.frames)
        except BaseException:
            video.frames.close()
            raise
    except BaseException as error:
        shutil.rmtree(work_dir, ignore_errors=True)
        if isinstance(error, BadVideo):
            raise UserError(str(error)) from error
        raise
    return Session(video_name=display_name(Path(path).name), state=state, fps=video.frames.fps or 30.0,
                   limits=limits, notices=video.notices, work_dir=work_dir, output_root=output_root)


def video_info(session: Session) -> str:
    """One line about the video, then what was changed to fit the app's limits (if anything)."""
    height, width = session.size
    seconds = session.num_frames / session.fps
    line = f"{session.video_name}: {width}x{height}, {session.num_frames} frames, {session.fps:.2f} fps, {seconds:.1f} s"
    return "\n\n".join([line, *session.notices])


def render_frame(session: Session, frame_idx: int) -> np.ndarray:
    """The frame with every object's current mask and the current object's prompts."""
    frame_idx = _check_frame(session, frame_idx)
    image = session.frames.read_rgb(frame_idx)
    masks = session.masks.unpacked(frame_idx)
    image = draw_masks(image, {obj_id: mask for obj_id, mask in masks.items() if obj_id in session.objects})
    prompts = session.current
    corner = session.pending_corner if session.pending_corner and session.pending_corner[0] == frame_idx else None
    return draw_prompts(
        image, prompts.clicks.get(frame_idx, []), prompts.boxes.get(frame_idx), corner[1:] if corner else None
    )


def _check_frame(session: Session, frame_idx) -> int:
    try:
        frame_idx = int(frame_idx)
    except (TypeError, ValueError, OverflowError) as error:
        raise UserError(f"{frame_idx!r} is not a frame number.") from error
    if not 0 <= frame_idx < session.num_frames:
        raise UserError(f"Frame {frame_idx} does not exist: the video has frames 0 to {session.num_frames - 1}.")
    return frame_idx


# ----------------------------------------------------------------------------- prompts
def _apply_prompts(engine: Engine, session: Session, obj: ObjectPrompts, frame_idx: int) -> None:
    """Send the object's prompts on a frame to the predictor (or withdraw them)."""
    predictor, state = engine.predictor, session.state
    clicks, box = obj.clicks.get(frame_idx, []), obj.boxes.get(frame_idx)
    session.mark_dirty(frame_idx)
    with engine.compute():
        if clicks or box is not None:
            points = [[c.x, c.y] for c in clicks] if clicks else None
            labels = [1 if c.positive else 0 for c in clicks] if clicks else None
            _, obj_ids, logits = predictor.add_new_points_or_box(state, frame_idx, obj.obj_id, points=points,
                                                                 labels=labels, box=box)
            session.masks.put(frame_idx, packed_from_logits(obj_ids, logits))
        elif obj.obj_id in state.obj_ids:
            if obj.frames():
                _, obj_ids, logits = predictor.clear_all_prompts_in_frame(state, frame_idx, obj.obj_id)
                session.masks.put(frame_idx, packed_from_logits(obj_ids, logits))
            else:
                predictor.remove_object(state, obj.obj_id)
                session.masks.forget_object(obj.obj_id)


def click(engine: Engine, session: Session, frame_idx: int, x: float, y: float, mode: str) -> np.ndarray:
    """A click on the shown frame: include/exclude point, or a box corner in box mode."""
    frame_idx = _check_frame(session, frame_idx)
    height, width = session.size
    if not (0 <= x <= width and 0 <= y <= height):
        raise UserError(f"The click ({x:.0f}, {y:.0f}) is outside the {width}x{height} frame.")
    obj = session.current
    if mode == BOX:
        if session.pending_corner is None or session.pending_corner[0] != frame_idx:
            session.pending_corner = (frame_idx, x, y)
            return render_frame(session, frame_idx)
        _, x0, y0 = session.pending_corner
        session.pending_corner = None
        if abs(x - x0) < 2 or abs(y - y0) < 2:
            raise UserError("The box is too small: click two opposite corners.")
        obj.boxes[frame_idx] = (min(x0, x), min(y0, y), max(x0, x), max(y0, y))
    elif mode in (INCLUDE, EXCLUDE):
        if len(obj.clicks.get(frame_idx, [])) >= session.limits.max_points:
            raise UserError(f"At most {session.limits.max_points} points per object on one frame: "
                            "undo one, or add another object.")
        obj.clicks.setdefault(frame_idx, []).append(Click(x, y, mode == INCLUDE))
    else:
        raise UserError(f"Unknown click mode {mode!r}.")
    _apply_prompts(engine, session, obj, frame_idx)
    return render_frame(session, frame_idx)


def undo_click(engine: Engine, session: Session, frame_idx: int) -> np.ndarray:
    """Remove the current object's last click on this frame (or its box when no click is left)."""
    frame_idx = _check_frame(session, frame_idx)
    obj = session.current
    session.pending_corner = None
    if obj.clicks.get(frame_idx):
        obj.clicks[frame_idx].pop()
        if not obj.clicks[frame_idx]:
            del obj.clicks[frame_idx]
    elif frame_idx in obj.boxes:
        del obj.boxes[frame_idx]
    else:
        raise UserError("Nothing to undo on this frame for the current object.")
    _apply_prompts(engine, session, obj, frame_idx)
    return render_frame(session, frame_idx)


def clear_object(engine: Engine, session: Session) -> None:
    """Forget the current object's prompts and masks (the object stays selected)."""
    obj_id = session.current_obj_id
    session.objects[obj_id] = ObjectPrompts(obj_id)
    session.pending_corner = None
    if obj_id in session.state.obj_ids:
        with engine.compute():
            engine.predictor.remove_object(session.state, obj_id)
    session.masks.forget_object(obj_id)
    session.dirty_from = 0


def reset_all(engine: Engine, session: Session) -> None:
    """Forget every object, prompt and result; start again with object 1."""
    with engine.compute():
        engine.predictor.reset_state(session.state)
    session.masks.clear()
    session.objects = {1: ObjectPrompts(1)}
    session.current_obj_id = 1
    session.pending_corner = None
    session.dirty_from = None


# ----------------------------------------------------------------------------- objects
def add_object(session: Session) -> int:
    """Start a new object and make it current; returns its id."""
    if len(session.objects) >= session.limits.max_objects:
        raise UserError(f"At most {session.limits.max_objects} objects can be tracked at once.")
    obj_id = max(session.objects) + 1
    session.objects[obj_id] = ObjectPrompts(obj_id)
    session.current_obj_id = obj_id
    session.pending_corner = None
    return obj_id


def select_object(session: Session, obj_id: int) -> None:
    obj_id = int(obj_id)
    if obj_id not in session.objects:
        raise UserError(f"There is no object {obj_id}.")
    session.current_obj_id = obj_id
    session.pending_corner = None


def remove_object(engine: Engine, session: Session, obj_id: int) -> None:
    """Delete an object with its prompts and masks (the last one is cleared instead)."""
    obj_id = int(obj_id)
    if obj_id not in session.objects:
        raise UserError(f"There is no object {obj_id}.")
    if obj_id in session.state.obj_ids:
        with engine.compute():
            engine.predictor.remove_object(session.state, obj_id)
    session.masks.forget_object(obj_id)
    if len(session.objects) == 1:
        session.objects = {obj_id: ObjectPrompts(obj_id)}
    else:
        del session.objects[obj_id]
        if session.current_obj_id == obj_id:
            session.current_obj_id = min(session.objects)
    session.pending_corner = None


# ------------------------------------------------------------------------------ tracking
def track(engine: Engine, session: Session, stream_seconds: float = 1.0) -> Iterator[TrackProgress]:
    """Track every object: forward from the earliest changed frame, then backward to frame 0
    for objects whose first prompt is later. Stops within a frame when asked."""
    prompted = session.prompted_frames()
    if not prompted:
        raise UserError("Click on the object to track first.")
    session.stop_requested.clear()
    start = prompted[0] if session.dirty_from is None else session.dirty_from
    passes = [(start, False, session.num_frames - start)]
    backward = session.backward_start()
    if backward is not None:
        passes.append((backward, True, backward + 1))
    total = sum(count for _, _, count in passes)
    streamer = ChunkStreamer(session.work_dir / f"stream_{time.monotonic_ns()}", session.fps, stream_seconds)
    done, began = 0, time.monotonic()
    try:
        for start_frame, reverse, _ in passes:
            frames = engine.predictor.propagate_in_video(session.state, start_frame_idx=start_frame, reverse=reverse)
            try:
                while not session.stop_requested.is_set():
                    with engine.compute():
                        item = next(frames, None)
                    if item is None:
                        break
                    frame_idx, obj_ids, logits = item
                    session.masks.put(frame_idx, packed_from_logits(obj_ids, logits))
                    done += 1
                    overlay = render_frame(session, frame_idx)
                    chunk = streamer.add(overlay)
                    yield TrackProgress(frame_idx, overlay, chunk, done, total, done / (time.monotonic() - began))
            finally:
                frames.close()  # ends the predictor's frame reader, also when the caller abandons us
            if session.stop_requested.is_set():
                break
        last = streamer.flush()
        if last is not None:
            yield TrackProgress(frame_idx, overlay, last, done, total, done / max(time.monotonic() - began, 1e-6))
    finally:
        # Every chunk was read before we were resumed (or abandoned): the stream's files can go.
        shutil.rmtree(streamer.folder, ignore_errors=True)
    if not session.stop_requested.is_set():
        session.dirty_from = None


def request_stop(session: Session) -> None:
    session.stop_requested.set()


# ------------------------------------------------------------------------------- exports
def overlay_video(session: Session) -> Path:
    """The whole video with masks drawn on it (H.264 mp4, original fps and size)."""
    path = session.output_path(f"{Path(session.video_name).stem}_overlay.mp4")

    def frames():
        for frame_idx in range(session.num_frames):
            image = session.frames.read_rgb(frame_idx)
            yield draw_masks(image, session.masks.unpacked(frame_idx))

    return write_mp4(path, frames(), session.fps)


def export_all(session: Session) -> ExportFiles:
    """Overlay video, per-object PNG masks, DAVIS indexed PNGs and COCO RLE JSON."""
    frames = session.tracked_frames()
    if not frames:
        raise UserError("Nothing to export yet: track the objects first.")
    stem = Path(session.video_name).stem
    masks_on = session.masks.unpacked
    return ExportFiles(
        overlay_video=overlay_video(session),
        mask_pngs=exports.write_mask_pngs(session.output_path(f"{stem}_masks.zip"), frames, masks_on),
        davis_pngs=exports.write_davis_pngs(session.output_path(f"{stem}_davis.zip"), frames, masks_on, session.size),
        coco_json=exports.write_coco_rle(session.output_path(f"{stem}_coco_rle.json"), frames, masks_on,
                                         session.video_name, session.size, session.fps),
    )
