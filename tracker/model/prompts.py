"""The user's prompts as the model state holds them, read back in video pixels.

The predictor's state is the one record of the prompts; the page reads them back through the
library (:mod:`sam2.prompts`) to draw them and to edit them.
"""

from dataclasses import dataclass, replace
from typing import List, Optional, Set, Tuple

from sam2 import prompts as library_prompts
from sam2.sam2_video_predictor import InferenceState

Box = Tuple[float, float, float, float]


@dataclass(frozen=True)
class Click:
    """A prompt point in video pixels; positive=True includes, False excludes."""

    x: float
    y: float
    positive: bool


@dataclass(frozen=True)
class FramePrompts:
    """One object's clicks and box on one frame, in video pixels, or whether a mask prompts it
    there (a mask and clicks exclude each other: the predictor keeps the latest kind)."""

    clicks: Tuple[Click, ...] = ()
    box: Optional[Box] = None
    has_mask: bool = False

    @property
    def empty(self) -> bool:
        return not self.clicks and self.box is None and not self.has_mask

    def with_click(self, click: Click) -> "FramePrompts":
        return replace(self, clicks=(*self.clicks, click))

    def with_box(self, box: Box) -> "FramePrompts":
        return replace(self, box=box)

    def without_last(self) -> "FramePrompts":
        """The last click removed, or the box when no click is left, or the mask."""
        if self.clicks:
            return replace(self, clicks=self.clicks[:-1])
        if self.box is not None:
            return replace(self, box=None)
        return FramePrompts()


def frame_prompts(state: InferenceState, obj_id: int, frame_idx: int, image_size: int) -> FramePrompts:
    """The clicks and box of ``obj_id`` on ``frame_idx`` (none when it has no prompt there)."""
    [prompt] = library_prompts.read_prompts(state, image_size, obj_id, frame_idx)
    clicks = tuple(Click(float(x), float(y), label == 1) for (x, y), label in zip(prompt.points, prompt.labels))
    return FramePrompts(clicks, prompt.box, prompt.has_mask)


def prompted_frames(state: InferenceState, obj_id: Optional[int] = None) -> List[int]:
    """Frames with a click, box or mask prompt (of ``obj_id``, or of any object)."""
    return library_prompts.prompted_frames(state, obj_id)


def tracked_frames(state: InferenceState, obj_id: int) -> List[int]:
    """Frames where ``obj_id`` has a result (prompted, or reached by tracking)."""
    return library_prompts.tracked_frames(state, obj_id)


def mask_prompted(state: InferenceState) -> Set[Tuple[int, int]]:
    """(object id, frame) of every mask prompt the state holds (any input size reads them)."""
    return {(p.obj_id, p.frame_idx) for p in library_prompts.read_prompts(state, 1) if p.has_mask}
