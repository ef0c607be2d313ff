"""Find by text: the things that phrases name, found on the shown frame and offered as boxes;
the boxes the user keeps become objects named by their phrases, each prompted with its box.
While tracking, the last query can be looked for again every N frames: a box that no tracked
object's mask covers becomes a new object there (see :func:`sam2.text_boxes.new_things`)."""

from typing import List, Sequence, Tuple

from sam2.text_boxes import new_things, parse_phrases

from ..errors import UserError
from ..model.calls import ModelCalls, PromptEdit
from ..sessions.findings import Findings, Proposal, TextQuery
from ..sessions.session import Session
from .showing import FrameView, show


def find(calls: ModelCalls, session: Session, text: str, threshold: float) -> Tuple[FrameView, List[str]]:
    """Find the things ``text`` names ("dog, ball") on the shown frame: the frame with the
    found boxes drawn, and their labels (all offered; UserError when nothing is found)."""
    try:
        phrases = parse_phrases(text or "")
    except ValueError as error:
        raise UserError(f"Find by text: {error}.") from error
    threshold = float(threshold)
    if not 0.0 <= threshold <= 1.0:
        raise UserError(f"The threshold must be between 0 and 1, not {threshold:g}.")
    frame_idx = session.view.shown_frame
    found = calls.find_text(session.model, session.frames.read_rgb(frame_idx), phrases, threshold)
    session.last_query = TextQuery(tuple(phrases), threshold)  # what Track looks for again
    if not found:
        raise UserError(f"Nothing found for {', '.join(repr(p) for p in phrases)} on frame {frame_idx} with a score "
                        f"of {threshold:.2f} or more: lower the threshold, try other words, or let Track look "
                        "again every few frames.")
    proposals = tuple(Proposal(number, f.phrase, f.score, f.box) for number, f in enumerate(found, start=1))
    session.findings = Findings(frame_idx, proposals)
    view = show(session, frame_idx)
    return view, [proposal.label for proposal in proposals]


def accept(calls: ModelCalls, session: Session, labels: Sequence[str]) -> FrameView:
    """Make each offered box in ``labels`` an object named by its phrase, prompted with that
    box on the frame it was found on (an empty current object takes the first one)."""
    findings = session.findings
    if findings is None:
        raise UserError("Find something first: type what to look for and press Find.")
    session.check_frame(findings.frame_idx)  # still in the window
    chosen = findings.chosen(labels)
    if not chosen:
        raise UserError("No box is checked: check the boxes to keep, or Find again.")
    reuse = not session.prompted_frames_of(session.objects.current)
    new_objects = len(chosen) - (1 if reuse else 0)
    room = session.limits.max_objects - len(session.objects.ids)
    if new_objects > room:
        raise UserError(f"{len(chosen)} boxes are checked but only {room + (1 if reuse else 0)} more objects fit "
                        f"(at most {session.limits.max_objects}): uncheck some.")
    for position, proposal in enumerate(chosen):
        if position > 0 or not reuse:
            session.add_object()
        obj_id = session.objects.current
        session.objects.rename(obj_id, proposal.phrase)
        _prompt_with_box(calls, session, obj_id, findings.frame_idx, proposal.box)
    session.mark_dirty(findings.frame_idx)
    session.findings = None
    return show(session, findings.frame_idx)


def drop_findings(session: Session) -> FrameView:
    """Forget the offer (its boxes leave the frame)."""
    session.findings = None
    return show(session, session.view.shown_frame)


def _prompt_with_box(calls: ModelCalls, session: Session, obj_id: int, frame_idx: int,
                     box: Tuple[float, float, float, float]) -> None:
    """Prompt ``obj_id`` with ``box`` on the frame, show its mask there, note where it was found."""
    result = calls.edit_prompts(session.model, session.state, PromptEdit(obj_id, frame_idx, box=box))
    session.adopt(result.state)
    session.masks.put(frame_idx, result.masks)
    session.found_at[obj_id] = frame_idx


def set_look_every(session: Session, every) -> None:
    """How often Track looks for the last query again: every ``every`` frames (0: never)."""
    try:
        every = int(every or 0)
    except (TypeError, ValueError) as error:
        raise UserError(f"'Look again every' takes a whole number of frames, not {every!r}.") from error
    if every < 0:
        raise UserError("'Look again every' takes a number of frames, 0 to turn it off.")
    session.look_every = every


def look_every(session: Session) -> int:
    """Every how many frames Track looks again (0: not at all, or nothing was looked for yet)."""
    return session.look_every if session.last_query is not None else 0


def look_again(calls: ModelCalls, session: Session, frame_idx: int) -> List[int]:
    """Look for the last query's things on a tracked frame; each new one (see
    :func:`sam2.text_boxes.new_things`)
    becomes an object named by its phrase, prompted with its box there, while objects fit.
    Returns the new objects' ids."""
    query = session.last_query
    found = calls.find_text(session.model, session.frames.read_rgb(frame_idx), query.phrases, query.threshold)
    fresh = new_things(found, session.masks.unpacked(frame_idx))
    added = []
    for thing in fresh[: session.limits.max_objects - len(session.objects.ids)]:
        session.add_object()
        obj_id = session.objects.current
        session.objects.rename(obj_id, thing.phrase)
        _prompt_with_box(calls, session, obj_id, frame_idx, thing.box)
        added.append(obj_id)
    return added
