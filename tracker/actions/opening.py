"""The video a session works on: opening an upload, the info line, the window of a long
video, and switching the model the session runs on."""

import shutil
from dataclasses import replace
from pathlib import Path
from typing import Optional

from ..errors import UserError
from ..media.video_input import BadVideo, display_name, prepare_video
from ..model.calls import ModelCalls, ModelChoice
from ..sessions.session import Session, SessionFiles, VideoClip, new_work_dir
from ..sessions.window import describe, window_from
from ..settings import Limits
from ..wording import plural
from .replay import replay
from .showing import FrameView, show


def open_video(calls: ModelCalls, path: str, model: Optional[ModelChoice] = None, limits: Limits = Limits(),
               output_root: Optional[Path] = None) -> Session:
    """Open an uploaded video whole (its first frame encoded, so the first click is quick); the
    window tracked starts at the beginning. What the user should know is in ``session.video.notices``."""
    if not path:
        raise UserError("Choose a video file first.")
    model = model or ModelChoice(calls.engines.default_model_id)
    engine = calls.engine(model)
    model = replace(model, image_size=engine.image_size)
    work_dir = new_work_dir()
    try:
        video = prepare_video(Path(path), work_dir, limits, engine.memory_policy)
        try:
            state = calls.open_video(model, video.frames, SessionFiles.spill_dir_of(work_dir))
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


def set_window(session: Session, start, end, unit: str) -> FrameView:
    """Work on another window (by seconds or frames). Prompts and masks stay; Track covers the
    new window, and the viewer moves into it when it showed a frame outside."""
    session.set_window(window_from(start, end, unit, session.video.frame_times, session.limits.max_frames))
    return show(session, session.window.clamp(session.view.shown_frame))


def switch_model(calls: ModelCalls, session: Session, model: ModelChoice) -> FrameView:
    """Run the session on another model, input size (other sizes share the loaded weights) or
    tracker: the prompts are added to it again (their masks shown); what was tracked is to be
    tracked again."""
    model = replace(model, image_size=calls.engine(model).image_size)
    if model != session.model:
        replayed = replay(calls, session, model, session.files.spill_dir)
        session.model = model
        session.adopt(replayed.state)
        session.masks = replayed.masks
        session.dirty_from = None
        session.last_track = None
    return show(session, session.view.shown_frame)
