"""SAMURAI (Yang et al., 2024): motion-aware candidate choice and memory on SAM 2's weights.

Per object, a Kalman filter follows the box of the kept mask. Once the object has been
followed steadily for ``stable_frames_threshold`` frames, each candidate mask is scored by
``kf_score_weight`` x (IoU of its box with the filter's expected box) + (1 - weight) x its
predicted IoU, instead of the predicted IoU alone. Memory frames are the latest tracked frames
whose kept mask had a predicted IoU above ``memory_bank_iou_threshold``, an object score above
``memory_bank_obj_score_threshold`` and, when it was chosen by motion, a motion score above
``memory_bank_kf_score_threshold`` (the previous frame always), and an object counts as present
from an object-score logit of ``min_obj_score_logits``.

Facts of the official code this follows (github.com/yangchris11/samurai): the filter is
started from the first kept mask with one candidate choice (a click; a box prompt makes none, so
then the first tracked frame), a steady frame is one whose kept mask's predicted IoU is above
``stable_ious_threshold``, a steady count of zero restarts the filter; the two frames at the
start of the video are memory only as the previous frame. The official code keeps one filter
on the model, for one object and one direction; here each object has its own, and it restarts when a step is not the next frame
of the one before in the same direction (a new propagation elsewhere or the other way).
"""

from dataclasses import dataclass, field
from typing import Callable, ClassVar, Dict, List, Mapping, Optional, Sequence

import torch

from ..modeling.memory_selection import MemoryEntry
from ..modeling.sam2_base import Candidates, SAM2Base, StepRules
from .motion import BoxFilter, box_iou, box_of_mask
from .policy import TrackingPolicy

# Where SAMURAI's code defaults differ from its configs' values (a config or override that
# switches it on without naming a key gets the code's default).
SAMURAI_CODE_DEFAULTS = {"kf_score_weight": 0.15}


@dataclass(frozen=True)
class SamuraiSettings:
    """SAMURAI's settings, under the names of its YAML keys (defaults: its configs')."""

    name: ClassVar[str] = "samurai"
    title: ClassVar[str] = "SAMURAI"

    stable_frames_threshold: int = 15
    stable_ious_threshold: float = 0.3
    min_obj_score_logits: float = -1.0
    kf_score_weight: float = 0.25
    memory_bank_iou_threshold: float = 0.5
    memory_bank_obj_score_threshold: float = 0.0
    memory_bank_kf_score_threshold: float = 0.0


@dataclass
class MotionTrack:
    """One object's filter, its count of steady frames, the last frame it saw and, per frame
    whose mask was chosen by motion, the kept mask's motion score (box IoU with the filter)."""

    box_filter: Optional[BoxFilter] = None
    steady_frames: int = 0
    last_frame: Optional[int] = None
    step: Optional[int] = None  # +1 forward, -1 reverse, None until known
    motion_scores: Dict[int, float] = field(default_factory=dict)

    def continues_at(self, frame_idx: int) -> bool:
        """Whether ``frame_idx`` is the next frame after the last one, in the same direction."""
        if self.box_filter is None or self.last_frame is None:
            return False
        step = frame_idx - self.last_frame
        return abs(step) == 1 and self.step in (None, step)

    def moved_to(self, frame_idx: int) -> None:
        if self.last_frame is not None and abs(frame_idx - self.last_frame) == 1:
            self.step = frame_idx - self.last_frame
        else:
            self.step = None
        self.last_frame = frame_idx


@dataclass
class _Choice:
    settings: SamuraiSettings
    frame_idx: int
    tracks: List[MotionTrack] = field(default_factory=list)

    def __call__(self, candidates: Candidates) -> torch.Tensor:
        chosen = [self._choose_one(track, candidates, row) for row, track in enumerate(self.tracks)]
        return torch.tensor(chosen, device=candidates.iou_pred.device)

    def _choose_one(self, track: MotionTrack, candidates: Candidates, row: int) -> int:
        settings, ious = self.settings, candidates.iou_pred[row]
        continuing = track.continues_at(self.frame_idx) and track.steady_frames > 0
        track.moved_to(self.frame_idx)
        track.motion_scores.pop(self.frame_idx, None)
        if not continuing:
            best = int(ious.argmax())
            track.box_filter = BoxFilter.start(box_of_mask(candidates.high_res[row, best]))
            track.steady_frames = 1
            return best
        track.box_filter.predict()
        if track.steady_frames < settings.stable_frames_threshold:
            best = int(ious.argmax())
            if ious[best] > settings.stable_ious_threshold:
                track.box_filter.correct(box_of_mask(candidates.high_res[row, best]))
                track.steady_frames += 1
            else:
                track.steady_frames = 0
            return best
        boxes = [box_of_mask(mask) for mask in candidates.high_res[row]]
        expected = track.box_filter.expected_box()
        motion = torch.tensor([box_iou(expected, box) for box in boxes], device=ious.device)
        weight = settings.kf_score_weight
        best = int((weight * motion + (1 - weight) * ious).argmax())
        track.motion_scores[self.frame_idx] = float(motion[best])
        if ious[best] < settings.stable_ious_threshold:
            track.steady_frames = 0
        else:
            track.box_filter.correct(boxes[best])
        return best


def reliable_recent_frames(
    frame_idx: int, non_cond_outputs: Mapping[int, MemoryEntry], num_frames: int, reverse: bool, count: int,
    reliable: Callable[[int, MemoryEntry], bool],
) -> List[int]:
    """Up to ``count`` latest tracked frames before ``frame_idx`` (in the tracking direction)
    that are ``reliable``, nearest last; the previous frame ends the list whether it is or
    not. The two frames at the start of the tracking direction's video count only as the
    previous frame."""
    step = -1 if reverse else 1
    previous = frame_idx - step
    last_scanned = 2 if not reverse else num_frames - 3
    chosen: List[int] = []
    for t in range(previous, last_scanned - step, -step):
        entry = non_cond_outputs.get(t)
        if entry is None:
            continue
        if reliable(t, entry):
            chosen.insert(0, t)
            if len(chosen) >= count:
                break
    if previous not in chosen:
        chosen.append(previous)
    return chosen[-count:]


class SamuraiPolicy(TrackingPolicy):
    """SAMURAI's rules; see the module's description."""

    settings: SamuraiSettings

    def new_object_state(self) -> MotionTrack:
        return MotionTrack()

    def rules(self, model: SAM2Base, frame_idx: int, reverse: bool, objects: Sequence) -> StepRules:
        settings = self.settings
        tracks = [obj.tracker_state for obj in objects]

        def select(row: int, t: int, cond_outputs, non_cond_outputs, num_frames: int, backwards: bool):
            motion_scores = tracks[row].motion_scores

            def reliable(frame: int, entry: MemoryEntry) -> bool:
                motion = motion_scores.get(frame)
                return (
                    float(entry.iou_score) > settings.memory_bank_iou_threshold
                    and float(entry.object_score_logits) > settings.memory_bank_obj_score_threshold
                    and (motion is None or motion > settings.memory_bank_kf_score_threshold)
                )

            frames = reliable_recent_frames(t, non_cond_outputs, num_frames, backwards, model.num_maskmem - 1, reliable)
            return model.default_memories(t, cond_outputs, non_cond_outputs, num_frames, backwards, frames)

        return StepRules(
            presence_threshold=settings.min_obj_score_logits, choose=_Choice(settings, frame_idx, tracks), select=select
        )
