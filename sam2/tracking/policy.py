"""The tracking-policy seam: what a session's tracker decides beyond SAM 2's model.

A policy is chosen per session (``init_state(..., tracker=...)``) and gives each tracking
step its :class:`~sam2.modeling.sam2_base.StepRules`: which candidate mask is kept, the
presence threshold, and which stored frames an object attends to. Per-object memory of the
policy (a motion filter, counters) lives on the object's ``tracker_state``. The base class is
SAM 2's own behaviour.
"""

from dataclasses import dataclass
from typing import Any, ClassVar, Sequence

from ..modeling.sam2_base import DEFAULT_RULES, SAM2Base, StepRules


@dataclass(frozen=True)
class Sam2Settings:
    """SAM 2's own tracking: the highest predicted IoU wins, the latest frames are memory."""

    name: ClassVar[str] = "sam2"
    title: ClassVar[str] = "SAM 2"


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

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.settings!r})"
