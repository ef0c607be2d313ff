"""Scripted prompting sessions (tables of operations) and their one-object cuts. Pure Python.

Coordinates are fractions of the frame's width/height so that a scenario works on any clip;
frame indices may be negative (counted from the end).

:func:`plan_for_object` cuts a scenario down to the operations one object sees, for official
predictors that can only track one object per session. It follows the bookkeeping of the
SAM 2 video predictor (``sam2==1.1.0``), where every object is tracked on its own:

* a prompt on a frame the object has not been tracked on makes that frame conditioning;
  on a frame it has been tracked on it is a correction;
* a propagation with no start frame starts at the earliest conditioning frame of any
  object, so the cut passes that frame explicitly (the object alone might start later);
* clearing a conditioning frame's prompts makes it untracked again; removing the object
  or resetting the session ends its run.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class Click:
    frame: int
    obj: int
    points: tuple = ()  # ((fx, fy, label), ...) with label 1 = include, 0 = exclude
    box: tuple | None = None  # (fx0, fy0, fx1, fy1)
    clear_old_points: bool = True


@dataclass(frozen=True)
class AddMask:
    frame: int
    obj: int
    rect: tuple  # (fx0, fy0, fx1, fy1): a filled rectangle at video resolution


@dataclass(frozen=True)
class Propagate:
    start: int | None = None
    max_frames: int | None = None
    reverse: bool = False


@dataclass(frozen=True)
class RemoveObject:
    obj: int


@dataclass(frozen=True)
class ClearFrame:
    frame: int
    obj: int


@dataclass(frozen=True)
class Reset:
    pass


@dataclass(frozen=True)
class VideoScenario:
    ops: tuple


@dataclass(frozen=True)
class ImageScenario:
    pass


VIDEO_SCENARIOS = {
    # Every public editing call of the video predictor, in an order that exercises
    # re-propagation over existing memory, reverse tracking, late objects and removal.
    "video_full": VideoScenario(
        ops=(
            Click(frame=0, obj=1, points=((0.50, 0.55, 1),)),
            Click(frame=0, obj=2, box=(0.10, 0.20, 0.42, 0.75)),
            Click(frame=0, obj=2, points=((0.30, 0.60, 0),), clear_old_points=False),
            Propagate(),
            Click(frame=3, obj=1, points=((0.58, 0.50, 1), (0.40, 0.35, 0))),
            Propagate(),
            Propagate(start=-1, reverse=True),
            AddMask(frame=2, obj=3, rect=(0.60, 0.15, 0.90, 0.55)),
            Propagate(start=1, max_frames=3),
            RemoveObject(obj=2),
            Propagate(),
            ClearFrame(frame=3, obj=1),
            Reset(),
            Click(frame=1, obj=4, points=((0.45, 0.40, 1),)),
            Propagate(),
        )
    ),
    # Prompts only on a middle frame: forward to the end, then backwards to frame 0.
    "video_reverse": VideoScenario(
        ops=(
            Click(frame=-4, obj=1, points=((0.50, 0.50, 1),)),
            Click(frame=-4, obj=2, points=((0.25, 0.35, 1), (0.75, 0.70, 0))),
            Propagate(),
            Propagate(reverse=True),
        )
    ),
    # Plain two-object tracking (used for the SAM 2.0 configs). Single clicks: with the
    # random test weights, 2.0's single-mask output (used for multi-point prompts) is
    # almost all positive, while the multimask choice for one click has real content.
    "video_basic": VideoScenario(
        ops=(
            Click(frame=0, obj=1, points=((0.50, 0.55, 1),)),
            Click(frame=0, obj=2, points=((0.70, 0.30, 1),)),
            Propagate(),
        )
    ),
}

IMAGE_SCENARIOS = {"image": ImageScenario()}
# The automatic mask generator: settings (as keyword arguments) run in turn on the first still,
# scaled to AUTOMATIC_WIDTH pixels wide. The random weights give large blobs whose boxes
# overlap, so the default NMS would leave one mask: the first two settings keep every mask
# that passes the thresholds (NMS thresholds 1), the last keeps the defaults. Masks from the
# crops do not survive (their blobs touch the crop edges, on both sides): tests/
# test_automatic_mask_generator.py checks the crops' geometry and the edge rule.
AUTOMATIC_WIDTH = 320
AUTOMATIC_SETTINGS = {
    "grid": dict(points_per_side=12, pred_iou_thresh=0.5, stability_score_thresh=0.5, box_nms_thresh=1.0),
    "crops_m2m": dict(points_per_side=8, crop_n_layers=1, crop_n_points_downscale_factor=2, use_m2m=True,
                      pred_iou_thresh=0.3, stability_score_thresh=0.3, box_nms_thresh=1.0, crop_nms_thresh=1.0),
    "single_mask": dict(points_per_side=8, multimask_output=False, pred_iou_thresh=0.0,
                        stability_score_thresh=0.0, output_mode="uncompressed_rle"),
}
AUTOMATIC_SCENARIOS = {"automatic_masks"}
SCENARIOS = sorted([*VIDEO_SCENARIOS, *IMAGE_SCENARIOS, *AUTOMATIC_SCENARIOS])


def frame_index(frame: int, num_frames: int) -> int:
    return frame + num_frames if frame < 0 else frame


def op_label(op_index: int, op) -> str:
    """The label a recording gives the steps of operation ``op_index`` (shared by all runs)."""
    return f"op{op_index:02d}:{type(op).__name__}"


@dataclass(frozen=True)
class PlannedOp:
    """One operation of a cut scenario, under its index in the full scenario."""

    index: int
    op: object


@dataclass
class _Ledger:
    """Per-object conditioning and tracked frames, as the video predictor keeps them."""

    num_frames: int
    cond: dict = field(default_factory=dict)  # obj -> set of conditioning frames
    tracked: dict = field(default_factory=dict)  # obj -> set of frames tracked by propagation

    def prompt(self, obj: int, frame: int) -> bool:
        """Record a prompt; True when it corrects a frame the object was tracked on."""
        cond, tracked = self.cond.setdefault(obj, set()), self.tracked.setdefault(obj, set())
        if frame in tracked:
            return True
        cond.add(frame)
        return False

    def propagate(self, op: Propagate) -> int:
        """Mark the frames ``op`` visits as tracked; return its start frame."""
        if op.start is None:
            start = min(f for frames in self.cond.values() for f in frames)
        else:
            start = frame_index(op.start, self.num_frames)
        span = self.num_frames if op.max_frames is None else op.max_frames
        if op.reverse:
            frames = range(start, max(start - span, 0) - 1, -1) if start > 0 else range(0)
        else:
            frames = range(start, min(start + span, self.num_frames - 1) + 1)
        for tracked in self.tracked.values():
            tracked.update(frames)
        return start

    def clear(self, obj: int, frame: int) -> None:
        if frame in self.cond.get(obj, ()):
            self.cond[obj].discard(frame)
            self.tracked[obj].discard(frame)

    def remove(self, obj: int) -> None:
        self.cond.pop(obj, None)
        self.tracked.pop(obj, None)


def plan_for_object(
    scenario: VideoScenario, obj: int, num_frames: int, stop_at_correction: bool = False
) -> list[PlannedOp]:
    """The operations object ``obj`` sees in ``scenario``, played in a session of its own.

    Its prompts and frame clears are kept; propagations are kept from its first prompt on,
    with the start frame the full session would use; the cut ends where the object is
    removed or reset away. ``stop_at_correction`` also ends it right after the object's
    first correction of a tracked frame: the legacy SAM 2 predictor (EdgeTAM's) keeps such
    a corrected output through later propagations, the current one re-tracks the frame,
    so the two agree only up to there.
    """
    ledger, plan, started = _Ledger(num_frames), [], False
    for index, op in enumerate(scenario.ops):
        if isinstance(op, (Click, AddMask)):
            correction = ledger.prompt(op.obj, frame_index(op.frame, num_frames))
            if op.obj == obj:
                plan.append(PlannedOp(index, op))
                started = True
                if correction and stop_at_correction:
                    break
        elif isinstance(op, Propagate):
            start = ledger.propagate(op)
            if started:
                plan.append(PlannedOp(index, replace(op, start=start)))
        elif isinstance(op, ClearFrame):
            ledger.clear(op.obj, frame_index(op.frame, num_frames))
            if op.obj == obj and started:
                plan.append(PlannedOp(index, op))
        elif isinstance(op, RemoveObject):
            ledger.remove(op.obj)
            if op.obj == obj:
                break
        elif isinstance(op, Reset):
            ledger = _Ledger(num_frames)
            if started:
                break
        else:  # pragma: no cover - table typo
            raise TypeError(f"unknown scenario operation {op!r}")
    return plan


def full_plan(scenario: VideoScenario) -> list[PlannedOp]:
    """Every operation of ``scenario``, as played with all objects in one session."""
    return [PlannedOp(index, op) for index, op in enumerate(scenario.ops)]


def scenario_objects(scenario: VideoScenario) -> list[int]:
    """The object ids prompted in ``scenario``, in order of first appearance."""
    seen = []
    for op in scenario.ops:
        if isinstance(op, (Click, AddMask)) and op.obj not in seen:
            seen.append(op.obj)
    return seen
