"""A session's prompts run again on another model or input size (for Compare and for a new
input size): the same clicks, boxes and masks, object by object, frame by frame."""

from dataclasses import dataclass, field
from pathlib import Path
from typing import List

from sam2.sam2_video_predictor import InferenceState

from ..model.calls import ModelCalls, ModelChoice, PromptEdit
from ..model.mask_store import MaskStore
from ..sessions.session import Session


@dataclass
class Replayed:
    """A fresh model state holding the session's prompts, and the masks they gave per frame."""

    state: InferenceState
    masks: MaskStore = field(default_factory=MaskStore)


def prompt_edits(session: Session) -> List[PromptEdit]:
    """Every prompt of the session as the edit that would set it."""
    edits = []
    for obj_id in session.state.obj_ids:
        for frame_idx in session.prompted_frames_of(obj_id):
            mask = session.mask_prompts.get((obj_id, frame_idx))
            if mask is not None:
                edits.append(PromptEdit(obj_id, frame_idx, mask=mask))
            else:
                prompts = session.prompts(obj_id, frame_idx)
                edits.append(PromptEdit(obj_id, frame_idx, prompts.clicks, prompts.box))
    return edits


def replay(calls: ModelCalls, session: Session, model: ModelChoice, spill_dir: Path) -> Replayed:
    """Open the session's video on ``model`` and add every prompt of the session to it (the
    new state's evicted memories go to ``spill_dir``)."""
    replayed = Replayed(calls.open_video(model, session.frames, spill_dir))
    for edit in prompt_edits(session):
        result = calls.edit_prompts(model, replayed.state, edit)
        replayed.state = result.state
        replayed.masks.put(edit.frame_idx, result.masks)
    return replayed
