"""DAM4SAM, "SAM 2.1++" (Videnovic et al., CVPR 2025): a distractor-aware memory on SAM 2's weights.

Memory has two parts. The recent-appearance memory (RAM) is the tracked frames: the previous
frame, then frames on a grid of ``ram_stride`` frames, skipping frames where the object was
not visible, numbered by recency. The distractor-resolving memory (DRM) is the conditioning
frames: the prompted ones and tracked frames the policy adds when a look-alike is near. A
frame joins the DRM when its kept mask is confident (predicted IoU above ``drm_min_iou``),
about the usual size (``drm_area_ratio`` of the median of the last ``area_history`` areas),
at least ``drm_min_gap`` + 1 frames after the last one added, and another candidate mask
reaches beyond the kept one: its largest part outside the kept mask, joined with it, has a
box whose IoU with the kept mask's box is at most ``distractor_box_iou``. An added frame's
memory is encoded again from the kept mask, binarised (as a prompted frame's). Up to
``drm_size`` DRM frames are attended to: the first prompted frame, the latest added one before
the previous frame, then the others nearest in time (never the previous frame, which is RAM).
Pointers come from the attended DRM frames and from the latest tracked frames where the object
was visible, at their (unsigned) distance.

Facts of the official code (github.com/jovanavidenovic/DAM4SAM) this follows: box sizes and
overlaps as vot-toolkit computes them (a mask's box spans its first to last pixel, without
the last one; overlap = intersection / union of the boxes' pixels), 8-connected parts, areas
at the video's size, visibility on the model's low-resolution mask. The official code tracks
one object forward from frame 0; here each object of a session has its own DRM, and reverse
tracking mirrors the rules.
"""

from dataclasses import dataclass, field
from typing import ClassVar, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from ..modeling.memory_selection import MemoryEntry, MemorySelection
from ..modeling.sam2_base import SAM2Base, StepRules
from .policy import StepOutcome, TrackingPolicy


@dataclass(frozen=True)
class Dam4samSettings:
    """DAM4SAM's settings (defaults: its code's and its sam21pp configs')."""

    name: ClassVar[str] = "dam4sam"
    title: ClassVar[str] = "DAM4SAM"

    ram_stride: int = 5
    drm_size: int = 4
    drm_min_iou: float = 0.8
    drm_area_ratio: Tuple[float, float] = (0.8, 1.2)
    drm_min_gap: int = 5
    area_history: int = 10
    area_window: int = 300
    distractor_box_iou: float = 0.7


@dataclass
class DistractorMemory:
    """One object's memory of the policy: its mask area (video pixels) on each tracked frame in
    tracking order, whether it was visible on each tracked frame, the frames it added to the
    DRM, and the last one added (-1: none)."""

    areas: List[int] = field(default_factory=list)
    visible: Dict[int, bool] = field(default_factory=dict)
    added: List[int] = field(default_factory=list)
    last_added: int = -1


Box = Tuple[int, int, int, int]  # x, y, width, height as vot-toolkit gives a mask's box


def mask_box(mask: np.ndarray) -> Box:
    """(x, y, w, h) of a (H, W) bool mask: first column and row, and the distance to the last
    (so the box leaves out the last column and row); (0, 0, 0, 0) when empty."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return (0, 0, 0, 0)
    return (int(cols[0]), int(rows[0]), int(cols[-1] - cols[0]), int(rows[-1] - rows[0]))


def box_overlap(a: Box, b: Box) -> float:
    """Pixels in both boxes over pixels in either (1 when together they span no area)."""
    left, top = min(a[0], b[0]), min(a[1], b[1])
    right, bottom = max(a[0] + a[2], b[0] + b[2]), max(a[1] + a[3], b[1] + b[3])
    if left >= right or top >= bottom:
        return 1.0
    inter = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])) * max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def largest_part(mask: np.ndarray) -> np.ndarray:
    """The largest 8-connected part of a non-empty (H, W) bool mask (the first on a tie)."""
    _, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    return labels == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))


def distractor_near(kept: np.ndarray, others: Sequence[np.ndarray], max_box_iou: float) -> bool:
    """Whether another candidate reaches beyond the kept mask: its largest part outside it,
    joined with it, has a box overlapping the kept mask's box at most ``max_box_iou``."""
    kept_box = mask_box(kept)
    overlaps = []
    for other in others:
        outside = other & ~kept
        if outside.any():
            overlaps.append(box_overlap(kept_box, mask_box(largest_part(outside) | kept)))
    return bool(overlaps) and min(overlaps) <= max_box_iou


class _Frames:
    """Frame indices seen in the tracking direction: forward as they are, reverse mirrored
    (so the rules, written for forward tracking, read the same both ways)."""

    def __init__(self, num_frames: int, reverse: bool) -> None:
        self.num_frames, self.reverse = num_frames, reverse

    def __call__(self, position: int) -> int:
        return self.num_frames - 1 - position if self.reverse else position


class Dam4samPolicy(TrackingPolicy):
    """DAM4SAM's rules; see the module's description."""

    settings: Dam4samSettings

    def new_object_state(self) -> DistractorMemory:
        return DistractorMemory()

    # ------------------------------------------------------------------ memories
    def rules(self, model: SAM2Base, frame_idx: int, reverse: bool, objects: Sequence) -> StepRules:
        memories = [obj.tracker_state for obj in objects]

        def select(row: int, t: int, cond_outputs, non_cond_outputs, num_frames: int, backwards: bool):
            return self._memories(model, memories[row], t, cond_outputs, non_cond_outputs, num_frames, backwards)

        return StepRules(select=select)

    def _visible(self, memory: DistractorMemory, frame: int, entry: MemoryEntry) -> bool:
        known = memory.visible.get(frame)
        return bool((entry.pred_masks > 0).any()) if known is None else known

    def _drm(self, position: int, cond_positions: List[int]) -> List[int]:
        """The DRM frames attended at ``position`` (positions in the tracking direction)."""
        chosen = []
        before = [p for p in cond_positions if p < position - 1]
        if before:
            chosen.append(max(before))
        first = min(cond_positions)
        if first not in chosen:
            chosen.append(first)
        others = sorted((p for p in cond_positions if p not in chosen and p != position - 1), key=lambda p: abs(p - position))
        return chosen + others[: max(self.settings.drm_size - len(chosen), 0)]

    def _ram(self, count: int, position: int, at, cond_outputs, non_cond_outputs, usable) -> List[Tuple[int, MemoryEntry]]:
        """Up to ``count`` (position, entry) RAM memories before ``position``, newest first."""
        stride, found = self.settings.ram_stride, []
        previous = position
        for slot in range(count):
            if slot == 0:
                previous = position - 1
                frame = at(previous)
                entry = cond_outputs.get(frame) if frame in cond_outputs else non_cond_outputs.get(frame)
                step = 1
            elif previous >= 0:
                previous = ((previous - 1) // stride) * stride
                entry, step = non_cond_outputs.get(at(previous)), stride
            else:
                continue
            while not usable(previous, entry):
                previous -= step
                if previous <= 0:
                    entry = None
                    break
                entry = non_cond_outputs.get(at(previous))
            if entry is not None:
                found.append((previous, entry))
        return found

    def _memories(self, model: SAM2Base, memory: DistractorMemory, t: int, cond_outputs, non_cond_outputs,
                  num_frames: int, reverse: bool) -> MemorySelection:
        at = _Frames(num_frames, reverse)
        position = at(t)
        cond_positions = {at(frame): frame for frame in cond_outputs}
        drm = [cond_positions[p] for p in self._drm(position, sorted(cond_positions))]
        drm_positions = {at(frame) for frame in drm}

        def usable(p: int, entry: Optional[MemoryEntry]) -> bool:
            return entry is not None and p not in drm_positions and self._visible(memory, at(p), entry)

        ram = self._ram(model.num_maskmem - len(drm), position, at, cond_outputs, non_cond_outputs, usable)
        spatial = [(0, cond_outputs[frame]) for frame in drm]
        spatial += [(model.num_maskmem - 1 - rank, entry) for rank, (_, entry) in reversed(list(enumerate(ram)))]

        pointers = [(abs(t - frame), cond_outputs[frame]) for frame in drm if at(frame) <= position]
        unselected = {frame: entry for frame, entry in cond_outputs.items() if frame not in drm}
        for distance in range(1, min(num_frames, model.max_obj_ptrs_in_encoder)):
            if position - distance < 0:
                break
            frame = at(position - distance)
            entry = non_cond_outputs.get(frame, unselected.get(frame))
            if entry is not None and self._visible(memory, frame, entry):
                pointers.append((distance, entry))
        return MemorySelection(spatial, pointers)

    # ------------------------------------------------------------ after a step
    def start_tracking(self, objects: Sequence, start: int, reverse: bool) -> None:
        """A new propagation from ``start``: the frames this policy added to the DRM ahead of
        it are tracked (and judged) again."""
        for obj in objects:
            memory: DistractorMemory = obj.tracker_state
            ahead = [f for f in memory.added if (f <= start if reverse else f >= start)]
            for frame in ahead:
                obj.cond_outputs.pop(frame, None)
                memory.added.remove(frame)

    def after_step(self, outcome: StepOutcome) -> None:
        """Remember visibility and area; add the frame to the DRM where a distractor is near."""
        settings = self.settings
        for row, obj in enumerate(outcome.objects):
            memory: DistractorMemory = obj.tracker_state
            output = outcome.outputs[row]
            memory.visible[outcome.frame_idx] = bool((output.pred_masks > 0).any())
            kept = outcome.video_masks(output.pred_masks)[0, 0] > 0
            area = int(kept.sum())
            memory.areas.append(area)
            ratio = -1.0
            if len(memory.areas) > 1 and area >= 1:
                recent = [a for a in memory.areas[-settings.area_window:] if a >= 1][-settings.area_history:]
                ratio = area / float(np.median(recent))
            ious = outcome.candidates.iou_pred[row]
            best = int(ious.argmax())
            gap_ok = memory.last_added == -1 or abs(outcome.frame_idx - memory.last_added) > settings.drm_min_gap
            low, high = settings.drm_area_ratio
            if not (float(ious[best]) > settings.drm_min_iou and low <= ratio <= high and area >= 1 and gap_ok):
                continue
            candidates = outcome.video_masks(outcome.candidates.low_res[row : row + 1]) > 0
            others = [candidates[0, index].cpu().numpy() for index in range(candidates.shape[1]) if index != best]
            if distractor_near(kept.cpu().numpy(), others, settings.distractor_box_iou):
                memory.last_added = outcome.frame_idx
                memory.added.append(outcome.frame_idx)
                outcome.make_conditioning(row)
