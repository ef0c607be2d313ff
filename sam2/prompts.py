"""A video session's prompts read back, in video pixels (not part of the official API).

The official predictor keeps prompts only inside its inference state, at the model's input
size, with a box stored as two extra points (labels 2 and 3). An application that draws or edits
them reads them here, through ``SAM2VideoPredictor.get_prompts`` and ``prompted_frames``:

    for prompt in predictor.get_prompts(state, obj_id=1):
        print(prompt.frame_idx, prompt.points, prompt.labels, prompt.box, prompt.has_mask)
"""

from dataclasses import dataclass
from typing import Any, List, Optional, Tuple

import numpy as np

from sam2.session.state import InferenceState

Box = Tuple[float, float, float, float]
BOX_CORNER_LABELS = (2, 3)


@dataclass(frozen=True)
class FramePrompt:
    """One object's prompts on one frame: clicks ``points`` (N, 2) float32 (x, y) in video
    pixels with ``labels`` (N,) int32 (1 include, 0 exclude), the ``box`` (x0, y0, x1, y1) or
    None, and whether a mask prompts the object there (a frame holds clicks and a box, or a
    mask: the latest kind given)."""

    obj_id: Any
    frame_idx: int
    points: np.ndarray
    labels: np.ndarray
    box: Optional[Box]
    has_mask: bool


def _frame_prompt(state: InferenceState, obj, frame_idx: int, image_size: int) -> FramePrompt:
    prompt = obj.point_inputs.get(frame_idx)
    if prompt is None:
        return FramePrompt(obj.obj_id, frame_idx, np.zeros((0, 2), np.float32), np.zeros(0, np.int32), None,
                           frame_idx in obj.mask_inputs)
    scale = np.array([state.video_width, state.video_height], np.float32) / image_size
    points = prompt.point_coords[0].float().cpu().numpy() * scale
    labels = prompt.point_labels[0].cpu().numpy().astype(np.int32)
    corners = points[np.isin(labels, BOX_CORNER_LABELS)]
    box = tuple(float(v) for v in corners.reshape(-1)) if len(corners) == 2 else None
    clicks = ~np.isin(labels, BOX_CORNER_LABELS)
    return FramePrompt(obj.obj_id, frame_idx, points[clicks].astype(np.float32), labels[clicks], box, False)


def read_prompts(state: InferenceState, image_size: int, obj_id: Any = None,
                 frame_idx: Optional[int] = None) -> List[FramePrompt]:
    """The prompts of ``state`` (kept at ``image_size``), by object (in the order added) and frame
    (ascending); only ``obj_id``'s and only on ``frame_idx`` when given. A frame without a prompt
    of an object has no entry, except that asking for one object on one frame always gives one
    entry (empty when it has no prompt there, or when the object does not exist)."""
    objects = [obj for obj in state.objects if obj_id is None or obj.obj_id == obj_id]
    if obj_id is not None and frame_idx is not None:
        if not objects:
            return [FramePrompt(obj_id, frame_idx, np.zeros((0, 2), np.float32), np.zeros(0, np.int32), None, False)]
        return [_frame_prompt(state, objects[0], frame_idx, image_size)]
    found = []
    for obj in objects:
        frames = sorted({*obj.point_inputs, *obj.mask_inputs})
        found += [_frame_prompt(state, obj, f, image_size) for f in frames if frame_idx is None or f == frame_idx]
    return found


def prompted_frames(state: InferenceState, obj_id: Any = None) -> List[int]:
    """Frames with a click, box or mask prompt (of ``obj_id``, or of any object), ascending."""
    objects = [obj for obj in state.objects if obj_id is None or obj.obj_id == obj_id]
    return sorted({f for obj in objects for f in (*obj.point_inputs, *obj.mask_inputs)})


def tracked_frames(state: InferenceState, obj_id: Any) -> List[int]:
    """Frames where ``obj_id`` has a result, ascending: its prompted frames and the frames
    tracking reached (empty for an unknown object)."""
    objects = [obj for obj in state.objects if obj.obj_id == obj_id]
    return sorted({f for obj in objects for f in (*obj.frames_tracked, *obj.cond_outputs)})
