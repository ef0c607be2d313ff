"""What the viewer shows: a frame with every object's mask and the current object's prompts,
the timeline and the object list; which frame Play, Prev/Next and a timeline click go to.

No Gradio in actions/. A handler that changes what the viewer should show returns a
:class:`FrameView`, and the viewer and the frame number are always updated together from it,
so the frame the page names is the frame it shows, and a click lands on the frame shown.
"""

from dataclasses import dataclass
from typing import Tuple

import numpy as np

from ..media.object_list import ObjectEntry, ObjectList
from ..media.overlay import draw_found, draw_masks, draw_prompts
from ..media.timeline import TimelineRow, draw_timeline, frame_at
from ..sessions.session import Session


@dataclass(frozen=True)
class FrameView:
    """A frame number, that frame drawn with its masks and the current object's prompts, the
    objects' timeline with the frame marked, and the object list that names its rows."""

    frame_idx: int
    image: np.ndarray
    timeline: np.ndarray
    objects: ObjectList


def masks_on(session: Session, frame_idx: int) -> np.ndarray:
    return draw_masks(session.frames.read_rgb(frame_idx), session.masks.unpacked(frame_idx))


def timeline(session: Session) -> Tuple[np.ndarray, ObjectList]:
    """Where each object has a mask in the window (the shown frame marked), and the object list
    that names the timeline's rows."""
    window, objects = session.window, session.objects
    rows = [TimelineRow(obj_id, session.masks.areas(obj_id), session.found_at.get(obj_id)) for obj_id in objects.ids]
    entries = [ObjectEntry(row.obj_id, objects.label(row.obj_id),
                           sum(1 for frame, area in row.areas.items() if area > 0 and frame in window),
                           row.obj_id == objects.current,
                           sum(1 for frame, area in row.areas.items() if area <= 0 and frame in window)) for row in rows]
    image = draw_timeline(rows, window.start, window.last, session.view.shown_frame)
    return image, ObjectList(entries, len(window))


def _with_prompts(session: Session, frame_idx: int, overlay: np.ndarray) -> FrameView:
    prompts = session.prompts(session.objects.current, frame_idx)
    corner = session.view.pending_corner
    corner = corner[1:] if corner and corner[0] == frame_idx else None
    session.view.shown_frame = frame_idx
    return FrameView(frame_idx, draw_prompts(overlay, prompts.clicks, prompts.box, corner), *timeline(session))


def show(session: Session, frame_idx) -> FrameView:
    """The frame with every object's mask, the current object's prompts and the boxes "Find by
    text" offers there; clicks go there."""
    frame_idx = session.check_frame(frame_idx)
    overlay = masks_on(session, frame_idx)
    findings = session.findings
    if findings is not None and findings.frame_idx == frame_idx:
        overlay = draw_found(overlay, [(proposal.label, proposal.box) for proposal in findings.proposals])
    return _with_prompts(session, frame_idx, overlay)


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
