"""The tracking-policy seam: what a session's tracker decides beyond SAM 2's model.

A policy is chosen per session (``init_state(..., tracker=...)``) and gives each tracking
step its :class:`~sam2.modeling.sam2_base.StepRules`: which candidate mask is kept, the
presence threshold, and which stored frames an object attends to. Per-object memory of the
policy (a motion filter, counters) lives on the object's ``tracker_state``. The base class is
SAM 2's own behaviour.
"""

from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Dict, Optional, Sequence

import torch

from ..modeling.sam2_base import DEFAULT_RULES, Candidates, FrameFeatures, SAM2Base, StepRules, TrackOutput
from ..session.frame_outputs import FrameOutput

# Outputs a policy revises when a propagation ends: object row -> frame -> its new output.
Revisions = Dict[int, Dict[int, FrameOutput]]


@dataclass(frozen=True)
class Sam2Settings:
    """SAM 2's own tracking: the highest predicted IoU wins, the latest frames are memory."""

    name: ClassVar[str] = "sam2"
    title: ClassVar[str] = "SAM 2"


@dataclass
class StepOutcome:
    """A tracking step of B objects, for a policy to learn from: the frame, the objects
    (ObjectState) and their stored outputs (FrameOutput), the decoder's candidates (None when the policy ran the step itself), and two
    services of the predictor: ``video_masks`` turns (B, M, h, w) logits into (B, M, H, W) at
    the video's size as outputs are, and ``make_conditioning(row)`` makes that object's output
    on this frame a conditioning frame (its memory encoded again from its mask, as a prompt's)."""

    frame_idx: int
    objects: Sequence[Any]
    outputs: Sequence[Any]
    candidates: Optional[Candidates]
    video_masks: Callable[[torch.Tensor], torch.Tensor]
    make_conditioning: Callable[[int], None]


class TrackingPolicy:
    """SAM 2's tracking rules; subclasses change them for their objects."""

    def __init__(self, settings: Any = Sam2Settings()) -> None:
        self.settings = settings

    @property
    def name(self) -> str:
        return self.settings.name

    @property
    def title(self) -> str:
        return self.settings.title

    def new_object_state(self) -> Any:
        """The policy's memory of one new object (None: it keeps none)."""
        return None

    def rules(self, model: SAM2Base, frame_idx: int, reverse: bool, objects: Sequence) -> StepRules:
        """The rules of one step that segments ``objects`` (ObjectState, in batch order) on
        ``frame_idx``."""
        return DEFAULT_RULES

    def start_tracking(self, objects: Sequence, start: int, reverse: bool) -> None:
        """A propagation starts at ``start`` (after the prompts' memories are encoded)."""

    def track(
        self, model: SAM2Base, frame_idx: int, features: FrameFeatures, objects: Sequence, num_frames: int,
        reverse: bool, storage_device: torch.device,
    ) -> Optional[TrackOutput]:
        """Run a tracking step of ``objects`` on the frame's ``features`` itself, returning each
        object's output with its memory features (bfloat16 on ``storage_device``); None lets the
        model track them with :meth:`rules`."""
        return None

    def end_tracking(self, objects: Sequence, finished: bool) -> Revisions:
        """A propagation ended (``finished``: it reached its last frame, else it was stopped);
        returns the outputs it revises (SAM 2's own policy revises none)."""
        return {}

    def after_step(self, outcome: StepOutcome) -> None:
        """A tracking step is done and stored (SAM 2's own policy learns nothing from it)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.settings!r})"
