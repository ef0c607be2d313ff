"""Prompts of the current object on the shown frame: clicks, boxes, mask prompts (uploaded or
painted), undo and clear."""

import numpy as np

from ..errors import UserError
from ..media.mask_image import mask_from_editor
from ..model.calls import ModelCalls, PromptEdit
from ..model.packed_mask import pack
from ..model.prompts import Click, FramePrompts
from ..sessions.session import Session
from .showing import FrameView, show

INCLUDE, EXCLUDE, BOX = "include", "exclude", "box"


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
