"""The session's objects: add, select, name, remove, and start again with one."""

from ..model.calls import ModelCalls
from ..sessions.session import Session
from .showing import FrameView, show


def reset_all(calls: ModelCalls, session: Session) -> FrameView:
    """Forget every object, prompt and result; start again with object 1."""
    session.reset_objects(calls.reset(session.model, session.state))
    return show(session, session.view.shown_frame)


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
