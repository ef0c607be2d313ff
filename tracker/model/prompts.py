"""The user's prompts as the model state holds them, read back in video pixels.

The predictor's state is the one record of the prompts: a click is stored as a point in
model-input pixels (label 1 include, 0 exclude), a box as its two corners first (labels 2
and 3). The page reads them from there to draw them and to edit them.
"""

from dataclasses import dataclass, replace
from typing import List, Optional, Tuple

from sam2.session.state import InferenceState, ObjectState

Box = Tuple[float, float, float, float]
BOX_LABELS = (2, 3)


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


def _object(state: InferenceState, obj_id: int) -> Optional[ObjectState]:
    return next((obj for obj in state.objects if obj.obj_id == obj_id), None)


def frame_prompts(state: InferenceState, obj_id: int, frame_idx: int, image_size: int) -> FramePrompts:
    """The clicks and box of ``obj_id`` on ``frame_idx`` (none when it has no prompt there)."""
    obj = _object(state, obj_id)
    prompt = obj.point_inputs.get(frame_idx) if obj is not None else None
    if prompt is None:
        return FramePrompts(has_mask=obj is not None and frame_idx in obj.mask_inputs)
    scale_x, scale_y = state.video_width / image_size, state.video_height / image_size
    points = [(x * scale_x, y * scale_y) for x, y in prompt.point_coords[0].tolist()]
    labels = prompt.point_labels[0].tolist()
    clicks = tuple(Click(x, y, label == 1) for (x, y), label in zip(points, labels) if label in (0, 1))
    corners = [point for point, label in zip(points, labels) if label in BOX_LABELS]
    box = (*corners[0], *corners[1]) if len(corners) == 2 else None
    return FramePrompts(clicks, box)


def prompted_frames(state: InferenceState, obj_id: Optional[int] = None) -> List[int]:
    """Frames with a click, box or mask prompt (of ``obj_id``, or of any object)."""
    objects = state.objects if obj_id is None else [obj for obj in state.objects if obj.obj_id == obj_id]
    return sorted({f for obj in objects for f in (*obj.point_inputs, *obj.mask_inputs)})
