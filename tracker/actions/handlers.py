"""What each user action does, as plain functions over a Session and the model calls.

No Gradio here. A handler that changes what the viewer should show returns a
:class:`FrameView`, and the viewer and the frame number are always updated together from it,
so the frame the page names is the frame it shows, and a click lands on the frame shown.
"""

import shutil
import time
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from ..errors import UserError
from ..media import exports, media_exports
from ..media.mask_image import mask_from_editor
from ..media.object_list import ObjectEntry, ObjectList
from ..media.overlay import draw_legend, draw_masks, draw_prompts
from ..media.timeline import TimelineRow, draw_timeline, frame_at
from ..media.video_input import BadVideo, display_name, prepare_video
from ..media.video_io import AudioClip, write_mp4
from ..model.calls import ModelCalls, ModelChoice, PromptEdit, TrackDone
from ..model.packed_mask import pack
from ..model.prompts import Click, FramePrompts
from ..sessions.session import Session, SessionFiles, TrackSpeed, VideoClip, new_work_dir
from ..sessions.window import describe, window_from
from ..settings import Limits
from ..wording import plural
from .replay import replay
from .track_plan import track_runs
from .track_progress import FrameCounter, SpeedMeter

INCLUDE, EXCLUDE, BOX = "include", "exclude", "box"
CUTOUTS, MATTES, BLURRED_BACKGROUND = "cut-outs", "mattes", "blurred background"
EXTRAS = (CUTOUTS, MATTES, BLURRED_BACKGROUND)
# While tracking, the viewer shows a new frame at most this often.
VIEW_INTERVAL_SECONDS = 0.25


@dataclass(frozen=True)
class FrameView:
    """A frame number, that frame drawn with its masks and the current object's prompts, the
    objects' timeline with the frame marked, and the object list that names its rows."""

    frame_idx: int
    image: np.ndarray
    timeline: np.ndarray
    objects: ObjectList


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


@dataclass(frozen=True)
class ExportFiles:
    overlay_video: Path
    mask_pngs: Path
    davis_pngs: Path
    coco_json: Path
    extras: Tuple[Path, ...] = ()  # cut-outs, mattes, the background effect, as asked

    def as_list(self) -> List[str]:
        return [str(p) for p in (self.overlay_video, self.mask_pngs, self.davis_pngs, self.coco_json, *self.extras)]


# ------------------------------------------------------------------------------- video
def open_video(calls: ModelCalls, path: str, model: Optional[ModelChoice] = None, limits: Limits = Limits(),
               output_root: Optional[Path] = None) -> Session:
    """Open an uploaded video whole (its first frame encoded, so the first click is quick); the
    window tracked starts at the beginning. What the user should know is in ``session.video.notices``."""
    if not path:
        raise UserError("Choose a video file first.")
    model = model or ModelChoice(calls.engines.default_model_id)
    engine = calls.engine(model)
    model = ModelChoice(model.model_id, engine.image_size)
    work_dir = new_work_dir()
    try:
        video = prepare_video(Path(path), work_dir, limits, engine.memory_policy)
        try:
            state = calls.open_video(model, video.frames)
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
                     frames.fps or 30.0, frames.frame_times(), tuple(video.notices), video.has_sound)
    return Session(clip, frames, model, state, SessionFiles(work_dir, output_root), limits)


def video_info(session: Session) -> str:
    """One line about the video and the window worked on, then the notices (if any)."""
    video = session.video
    sound = "with sound" if video.has_sound else "no sound"
    line = (f"{video.name}: {video.width}x{video.height}, {plural(video.num_frames, 'frame')}, {video.fps:.2f} fps, "
            f"{video.num_frames / video.fps:.1f} s, {sound}. Working on {window_text(session)}.")
    return "\n\n".join([line, *video.notices])


def window_text(session: Session) -> str:
    return describe(session.window, session.video.frame_times)


def _masks_on(session: Session, frame_idx: int) -> np.ndarray:
    return draw_masks(session.frames.read_rgb(frame_idx), session.masks.unpacked(frame_idx))


def timeline(session: Session) -> Tuple[np.ndarray, ObjectList]:
    """Where each object has a mask in the window (the shown frame marked), and the object list
    that names the timeline's rows."""
    window, objects = session.window, session.objects
    rows = [TimelineRow(obj_id, session.masks.areas(obj_id)) for obj_id in objects.ids]
    entries = [ObjectEntry(row.obj_id, objects.label(row.obj_id),
                           sum(1 for frame, area in row.areas.items() if area > 0 and frame in window),
                           row.obj_id == objects.current) for row in rows]
    image = draw_timeline(rows, window.start, window.last, session.view.shown_frame)
    return image, ObjectList(entries, len(window))


def _with_prompts(session: Session, frame_idx: int, overlay: np.ndarray) -> FrameView:
    prompts = session.prompts(session.objects.current, frame_idx)
    corner = session.view.pending_corner
    corner = corner[1:] if corner and corner[0] == frame_idx else None
    session.view.shown_frame = frame_idx
    return FrameView(frame_idx, draw_prompts(overlay, prompts.clicks, prompts.box, corner), *timeline(session))


def show(session: Session, frame_idx) -> FrameView:
    """The frame with every object's mask and the current object's prompts; clicks go there."""
    frame_idx = session.check_frame(frame_idx)
    return _with_prompts(session, frame_idx, _masks_on(session, frame_idx))


def frames_to_play(session: Session) -> range:
    """The window's frames after the shown one (from the window's start when its last is shown)."""
    shown, window = session.view.shown_frame, session.window
    return range(window.start if shown >= window.last else shown + 1, window.stop)


def step(session: Session, offset: int) -> FrameView:
    """The frame ``offset`` frames from the shown one (kept within the window)."""
    return show(session, session.window.clamp(session.view.shown_frame + offset))


def timeline_click(session: Session, x: float) -> FrameView:
    """The frame under pixel column ``x`` of the timeline."""
    return show(session, frame_at(x, session.window.start, session.window.last))


def set_window(session: Session, start, end, unit: str) -> FrameView:
    """Work on another window (by seconds or frames). Prompts and masks stay; Track covers the
    new window, and the viewer moves into it when it showed a frame outside."""
    session.set_window(window_from(start, end, unit, session.video.frame_times, session.limits.max_frames))
    return show(session, session.window.clamp(session.view.shown_frame))


# ----------------------------------------------------------------------------- prompts
def _apply(calls: ModelCalls, session: Session, edit: PromptEdit) -> FrameView:
    """Run a prompt edit of the current object and show its frame."""
    result = calls.edit_prompts(session.model, session.state, edit)
    session.adopt(result.state)
    if edit.mask is not None:
        session.mask_prompts[(edit.obj_id, edit.frame_idx)] = edit.mask
    if result.object_removed:
        session.masks.forget_object(edit.obj_id)
    else:
        session.masks.put(edit.frame_idx, result.masks)
    session.mark_dirty(edit.frame_idx)
    return show(session, edit.frame_idx)


def _edit(calls: ModelCalls, session: Session, frame_idx: int, prompts: FramePrompts) -> FrameView:
    """Make ``prompts`` the current object's prompts on the frame and show the result."""
    return _apply(calls, session, PromptEdit(session.objects.current, frame_idx, prompts.clicks, prompts.box))


def click(calls: ModelCalls, session: Session, x: float, y: float, mode: str, frame_idx=None) -> FrameView:
    """A click on the shown frame (or on ``frame_idx``): include/exclude point, or a box corner."""
    frame_idx = session.view.shown_frame if frame_idx is None else session.check_frame(frame_idx)
    height, width = session.video.size
    if not (0 <= x <= width and 0 <= y <= height):
        raise UserError(f"The click ({x:.0f}, {y:.0f}) is outside the {width}x{height} frame.")
    prompts = session.prompts(session.objects.current, frame_idx)
    if mode == BOX:
        corner = session.view.box_corner(frame_idx, x, y)
        if corner is None:
            return show(session, frame_idx)
        x0, y0 = corner
        if abs(x - x0) < 2 or abs(y - y0) < 2:
            raise UserError("The box is too small: click two opposite corners.")
        return _edit(calls, session, frame_idx, prompts.with_box((min(x0, x), min(y0, y), max(x0, x), max(y0, y))))
    if mode not in (INCLUDE, EXCLUDE):
        raise UserError(f"Unknown click mode {mode!r}.")
    if len(prompts.clicks) >= session.limits.max_points:
        raise UserError(f"At most {session.limits.max_points} points per object on one frame: "
                        "undo one, or add another object.")
    return _edit(calls, session, frame_idx, prompts.with_click(Click(x, y, mode == INCLUDE)))


def mask_prompt(calls: ModelCalls, session: Session, mask: np.ndarray) -> FrameView:
    """Make an (H, W) bool mask the current object's prompt on the shown frame (it replaces the
    object's clicks there, as the model keeps one kind of prompt per frame)."""
    if mask.shape != session.video.size:
        raise UserError(f"The mask is {mask.shape[1]}x{mask.shape[0]}, the video "
                        f"{session.video.width}x{session.video.height}.")
    edit = PromptEdit(session.objects.current, session.view.shown_frame, mask=pack(mask))
    return _apply(calls, session, edit)


def undo(calls: ModelCalls, session: Session) -> FrameView:
    """Remove the current object's last click on the shown frame (or its box when no click is
    left, or its mask prompt)."""
    frame_idx = session.view.shown_frame
    prompts = session.prompts(session.objects.current, frame_idx)
    if prompts.empty:
        raise UserError("Nothing to undo on this frame for the current object.")
    return _edit(calls, session, frame_idx, prompts.without_last())


def clear_object(calls: ModelCalls, session: Session) -> FrameView:
    """Forget the current object's prompts and masks (the object stays, selected)."""
    obj_id = session.objects.current
    session.adopt(calls.remove_object(session.model, session.state, obj_id))
    session.masks.forget_object(obj_id)
    return show(session, session.view.shown_frame)


def reset_all(calls: ModelCalls, session: Session) -> FrameView:
    """Forget every object, prompt and result; start again with object 1."""
    session.reset_objects(calls.reset(session.model, session.state))
    return show(session, session.view.shown_frame)


def paint_frame(session: Session) -> np.ndarray:
    """The shown frame ((H, W, 3) uint8) to paint a mask on; strokes will apply to it only."""
    session.view.painted_frame = session.view.shown_frame
    return session.frames.read_rgb(session.view.shown_frame)


def painted_mask(calls: ModelCalls, session: Session, editor_value) -> FrameView:
    """The mask painted in the editor (its value, see ``mask_from_editor``) as the current
    object's prompt on the frame it was painted on, which must be the one shown (else a
    UserError: the strokes belong to another frame or another video)."""
    painted = session.view.painted_frame
    if painted is None:
        raise UserError("Press 'Paint on the shown frame' first, then paint over the object.")
    if painted != session.view.shown_frame:
        raise UserError(f"The painting was made on frame {painted} and frame {session.view.shown_frame} is shown: "
                        f"go back to frame {painted}, or press 'Paint on the shown frame' to paint this one.")
    return mask_prompt(calls, session, mask_from_editor(editor_value, session.video.size))


def switch_model(calls: ModelCalls, session: Session, model: ModelChoice) -> FrameView:
    """Run the session on another model or input size (other sizes share the loaded weights):
    the prompts are added to it again (their masks shown); what was tracked is to be tracked again."""
    model = ModelChoice(model.model_id, calls.engine(model).image_size)
    if model != session.model:
        replayed = replay(calls, session, model, session.files.spill)
        session.model = model
        session.adopt(replayed.state)
        session.masks = replayed.masks
        session.dirty_from = None
        session.last_track = None
    return show(session, session.view.shown_frame)


# ----------------------------------------------------------------------------- objects
def add_object(session: Session) -> FrameView:
    """Start a new object and make it current."""
    session.add_object()
    return show(session, session.view.shown_frame)


def select_object(session: Session, label) -> FrameView:
    """Make the object of a list label (e.g. "2: dog") current."""
    session.select_object(session.objects.id_from_label(label))
    return show(session, session.view.shown_frame)


def rename_object(session: Session, name: str) -> FrameView:
    """Name the current object (an empty name restores "object <id>")."""
    session.objects.rename(session.objects.current, name)
    return show(session, session.view.shown_frame)


def remove_object(calls: ModelCalls, session: Session) -> FrameView:
    """Delete the current object with its prompts and masks (the last one is emptied instead)."""
    obj_id = session.objects.current
    session.forget_object(obj_id, calls.remove_object(session.model, session.state, obj_id))
    return show(session, session.view.shown_frame)


# ------------------------------------------------------------------------------ tracking
def track(calls: ModelCalls, session: Session) -> Iterator[TrackUpdate]:
    """Track every object over the window, one update per frame (the viewer's frame at most
    every ``VIEW_INTERVAL_SECONDS``). Stops within a frame when asked; what was tracked is kept."""
    per_call = calls.frames_per_track_call(len(session.state.objects))
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
def _legend(session: Session) -> List[tuple]:
    return [(obj_id, session.objects.name(obj_id)) for obj_id in session.objects.ids]


def overlay_frame(session: Session, frame_idx: int) -> np.ndarray:
    """A frame with its masks and the objects' legend, as in the overlay video."""
    return draw_legend(_masks_on(session, frame_idx), _legend(session))


def _window_stem(session: Session) -> str:
    return f"{Path(session.video.name).stem}_f{session.window.start}-{session.window.last}"


def _sound(session: Session, frames: Optional[range] = None) -> AudioClip:
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
                                 lambda path: write_mp4(path, frames, session.video.fps, _sound(session, span)))


def _object_outputs(session: Session, obj_id: int, extras: Sequence[str]) -> Iterator[Path]:
    stem = f"{_window_stem(session)}_{obj_id}_{exports.file_safe(session.objects.name(obj_id))}"
    frames, publish, fps = list(session.window), session.files.publish, session.video.fps

    def mask_of(frame_idx: int) -> Optional[np.ndarray]:
        return session.masks.unpacked(frame_idx).get(obj_id)

    if CUTOUTS in extras:
        yield publish(f"{stem}_cutout.webm",
                      lambda path: media_exports.write_cutout(path, frames, session.frames.read_rgb, mask_of, fps))
        yield publish(f"{stem}_cutout.zip",
                      lambda path: media_exports.write_cutout_pngs(path, frames, session.frames.read_rgb, mask_of))
    if MATTES in extras:
        yield publish(f"{stem}_matte.mp4",
                      lambda path: media_exports.write_matte(path, frames, mask_of, session.video.size, fps))


def extra_outputs(session: Session, extras: Sequence[str],
                  report: Callable[[str], None] = lambda text: None) -> List[Path]:
    """The extra exports asked for, over the window: per object a cut-out (WebM with alpha and
    RGBA PNGs) and a matte (white on black), and the video with the background blurred."""
    paths = []
    for obj_id in session.objects.ids:
        report(f"Writing the outputs of {session.objects.label(obj_id)}...")
        paths += _object_outputs(session, obj_id, extras)
    if BLURRED_BACKGROUND in extras:
        report("Writing the video with the background blurred...")
        paths.append(session.files.publish(
            f"{_window_stem(session)}_blurred_background.mp4",
            lambda path: media_exports.write_background_effect(
                path, list(session.window), session.frames.read_rgb, session.masks.unpacked, session.video.fps,
                audio=_sound(session))))
    return paths


def export_all(session: Session, extras: Sequence[str] = (),
               report: Callable[[str], None] = lambda text: None) -> ExportFiles:
    """Overlay video, per-object PNG masks, DAVIS indexed PNGs and COCO RLE JSON of the window's
    tracked frames, named by source frame number (the JSON also has each frame's time), then
    the ``extras`` asked for (see :func:`extra_outputs`)."""
    frames = session.tracked_frames()
    if not frames:
        raise UserError("Nothing to export yet: track the objects first.")
    unknown = set(extras) - set(EXTRAS)
    if unknown:
        raise UserError(f"Unknown export {sorted(unknown)[0]!r}: choose from {', '.join(EXTRAS)}.")
    report("Writing the overlay video, masks and COCO file...")
    stem = _window_stem(session)
    names = {obj_id: session.objects.name(obj_id) for obj_id in session.objects.ids}
    masks_on, publish, video = session.masks.unpacked, session.files.publish, session.video
    facts = exports.VideoFacts(video.name, video.size, video.fps, video.frame_times)
    return ExportFiles(
        overlay_video=overlay_video(session),
        mask_pngs=publish(f"{stem}_masks.zip", lambda path: exports.write_mask_pngs(path, frames, masks_on, names)),
        davis_pngs=publish(f"{stem}_davis.zip",
                           lambda path: exports.write_davis_pngs(path, frames, masks_on, video.size)),
        coco_json=publish(f"{stem}_coco_rle.json",
                          lambda path: exports.write_coco_rle(path, frames, masks_on, facts, names)),
        extras=tuple(extra_outputs(session, extras, report)),
    )
