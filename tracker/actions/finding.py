"""Find by text: the things that phrases name, found on the shown frame and offered as boxes;
the boxes the user keeps become objects named by their phrases, each prompted with its box."""

from typing import List, Sequence, Tuple

from sam2.text_boxes import parse_phrases

from ..errors import UserError
from ..model.calls import ModelCalls, PromptEdit
from ..sessions.findings import Findings, Proposal
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
    if not found:
        raise UserError(f"Nothing found for {', '.join(repr(p) for p in phrases)} on frame {frame_idx} with a score "
                        f"of {threshold:.2f} or more: lower the threshold, or try other words.")
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
        result = calls.edit_prompts(session.model, session.state, PromptEdit(obj_id, findings.frame_idx, box=proposal.box))
        session.adopt(result.state)
        session.masks.put(findings.frame_idx, result.masks)
    session.mark_dirty(findings.frame_idx)
    session.findings = None
    return show(session, findings.frame_idx)


def drop_findings(session: Session) -> FrameView:
    """Forget the offer (its boxes leave the frame)."""
    session.findings = None
    return show(session, session.view.shown_frame)
