"""Everything the app asks of the model, as calls that can run in a ZeroGPU worker.

Each call takes the session's model state and returns it with the results (see gpu.py for
why): only picklable values go in and come out, masks come back bit-packed (never as float
logits at video resolution), and between calls the state rests on the CPU when calls run in
another process (on the model's device otherwise, so that cached image features stay).
"""

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from sam2.frames.source import FrameSource
from sam2.sam2_video_predictor import InferenceState
from sam2.state_storage import rest, wake
from sam2.text_boxes import FoundBox, TextDetectorError, load_detector

from ..errors import UserError
from .engine import Engine
from .gpu import on_gpu, zero_gpu_active
from .loading import EngineCache, ModelUnavailable
from .weights import downloads_allowed
from .mask_store import FrameMasks, packed_from_logits
from .packed_mask import PackedMask
from .prompts import Box, Click, prompted_frames


@dataclass(frozen=True)
class GpuBudget:
    """Seconds a ZeroGPU call may hold the GPU (``spaces.GPU``'s duration): shorter calls wait
    less in ZeroGPU's queue, a call that runs over is cut off. Track is split into calls of at
    most ``max_call_seconds``, each estimated from the frames and objects it tracks."""

    open_seconds: int = 30
    prompt_seconds: int = 20
    find_seconds: int = 30
    track_overhead_seconds: float = 10.0
    track_seconds_per_frame: float = 0.05
    track_seconds_per_frame_and_object: float = 0.1
    max_call_seconds: int = 60

    def track_seconds(self, frames: int, objects: int) -> int:
        per_frame = self.track_seconds_per_frame + self.track_seconds_per_frame_and_object * max(objects, 1)
        return math.ceil(self.track_overhead_seconds + frames * per_frame)

    def frames_per_track_call(self, objects: int) -> int:
        per_frame = self.track_seconds_per_frame + self.track_seconds_per_frame_and_object * max(objects, 1)
        return max(1, int((self.max_call_seconds - self.track_overhead_seconds) / per_frame))


@dataclass(frozen=True)
class ModelChoice:
    """Which model runs a session's calls, at which input size (None: its default), and with
    which tracker (a name of sam2.tracking.TRACKER_NAMES: how candidates are chosen and which
    frames are memory)."""

    model_id: str
    image_size: Optional[int] = None
    tracker: str = "sam2"


@dataclass(frozen=True)
class PromptEdit:
    """Set one object's prompts on one frame to exactly ``clicks`` and ``box`` (video pixels),
    or to a ``mask`` (video size); none withdraws them."""

    obj_id: int
    frame_idx: int
    clicks: Tuple[Click, ...] = ()
    box: Optional[Box] = None
    mask: Optional[PackedMask] = None

    @property
    def empty(self) -> bool:
        return not self.clicks and self.box is None and self.mask is None


@dataclass
class PromptResult:
    """The state after a prompt edit and every object's mask on the edited frame;
    ``object_removed`` when the object lost its last prompt and left the model."""

    state: InferenceState
    frame_idx: int
    masks: FrameMasks
    object_removed: bool = False


@dataclass(frozen=True)
class TrackRun:
    """Track ``count`` frames from ``start`` (itself included), backward when ``reverse``."""

    start: int
    reverse: bool
    count: int

    @property
    def frames(self) -> range:
        """The frames the run yields, in order."""
        step = -1 if self.reverse else 1
        return range(self.start, self.start + step * self.count, step)

    def chunks(self, size: int) -> List["TrackRun"]:
        """The same frames as consecutive runs of at most ``size`` frames."""
        step = -1 if self.reverse else 1
        return [TrackRun(self.start + step * done, self.reverse, min(size, self.count - done))
                for done in range(0, self.count, size)]


@dataclass(frozen=True)
class TrackedFrame:
    """The masks of every object on one tracked frame; ``revised``: a frame of the call given
    again once its run ended (a tracker that revises its results at the end: SAM2Long)."""

    frame_idx: int
    masks: FrameMasks
    revised: bool = False


@dataclass
class TrackDone:
    """The last item of a track call: the state with the new memories."""

    state: InferenceState


TrackEvent = Union[TrackedFrame, TrackDone]


@dataclass(frozen=True)
class StopSignal:
    """A request to stop tracking that a worker process sees too: a file in the session's folder."""

    path: Path

    def request(self) -> None:
        self.path.touch()

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)

    @property
    def requested(self) -> bool:
        """Stop was pressed, or the session's folder is gone (the session was closed)."""
        return self.path.exists() or not self.path.parent.exists()


class ModelCalls:
    """The app's model calls over the shared models of ``engines``."""

    def __init__(self, engines: EngineCache, budget: GpuBudget = GpuBudget(),
                 detectors: Callable[[str, str, bool], object] = load_detector) -> None:
        self.engines = engines
        self.budget = budget
        # (detector id, device, local files only) -> a loaded text detector (an object with
        # find(frame, phrases, threshold)).
        self.detectors = detectors
        self.crosses_processes = zero_gpu_active()
        self.open_video = on_gpu(self._open_video, duration=budget.open_seconds)
        self.edit_prompts = on_gpu(self._edit_prompts, duration=budget.prompt_seconds)
        self.find_text = on_gpu(self._find_text, duration=budget.find_seconds)
        self.track = on_gpu(self._track, duration=self._track_duration)

    def engine(self, model: Optional[ModelChoice] = None) -> Engine:
        engine = self.engines.get(model.model_id, model.image_size) if model else self.engines.get()
        if isinstance(engine, ModelUnavailable):
            raise UserError(engine.message)
        return engine

    def frames_per_track_call(self, objects: int) -> Optional[int]:
        """How many frames one track call may cover (None: all, when calls run in-process)."""
        return self.budget.frames_per_track_call(objects) if self.crosses_processes else None

    def _wake(self, engine: Engine, state: InferenceState) -> InferenceState:
        """The state ready for the model: on its device, prompted frames' outputs in memory
        (in-process it never left them)."""
        return wake(state, engine.predictor.device) if self.crosses_processes else state

    def _rest(self, engine: Engine, state: InferenceState) -> InferenceState:
        """The state as it waits for the next call: when calls run in another process, on the
        CPU with every output's large tensors (memories, low-resolution logits) in the spill
        folder, which the app and the workers share; then only prompts, object pointers and
        file names cross."""
        return rest(state) if self.crosses_processes else state

    # ------------------------------------------------------------------ GPU calls
    def _open_video(self, model: ModelChoice, frames: FrameSource, spill_dir: Path) -> InferenceState:
        """A new state for the video (its first frame encoded), spilling into ``spill_dir`` (a
        folder of the app's session, which every copy of the state shares)."""
        engine = self.engine(model)
        policy = replace(engine.memory_policy, spill_dir=str(spill_dir))
        with engine.compute():
            state = engine.predictor.init_state(video_path=frames, memory_policy=policy, tracker=model.tracker)
        return self._rest(engine, state)

    def _edit_prompts(self, model: ModelChoice, state: InferenceState, edit: PromptEdit) -> PromptResult:
        engine = self.engine(model)
        predictor = engine.predictor
        self._wake(engine, state)
        masks, removed = {}, False
        with engine.compute():
            if edit.mask is not None:
                _, obj_ids, logits = predictor.add_new_mask(state, edit.frame_idx, edit.obj_id, edit.mask.unpack())
                masks = packed_from_logits(obj_ids, logits)
            elif edit.clicks or edit.box is not None:
                points = [[c.x, c.y] for c in edit.clicks] or None
                labels = [1 if c.positive else 0 for c in edit.clicks] or None
                _, obj_ids, logits = predictor.add_new_points_or_box(
                    state, edit.frame_idx, edit.obj_id, points=points, labels=labels, box=edit.box)
                masks = packed_from_logits(obj_ids, logits)
            elif edit.frame_idx in (frames := prompted_frames(state, edit.obj_id)):
                if frames != [edit.frame_idx]:
                    _, obj_ids, logits = predictor.clear_all_prompts_in_frame(state, edit.frame_idx, edit.obj_id)
                    masks = packed_from_logits(obj_ids, logits)
                else:
                    predictor.remove_object(state, edit.obj_id, need_output=False)
                    removed = True
        return PromptResult(self._rest(engine, state), edit.frame_idx, masks, removed)

    def _find_text(self, model: ModelChoice, frame: np.ndarray, phrases: Sequence[str],
                   threshold: float) -> List[FoundBox]:
        """The things named by ``phrases`` on an (H, W, 3) RGB frame, best first, found by the
        text detector on the model's device, at its precision."""
        engine = self.engine(model)
        try:
            # Offline (HF_HUB_OFFLINE, or the Hub did not answer), only a detector that is here.
            detector = self.detectors(self.engines.settings.text_detector, str(engine.predictor.device),
                                      not downloads_allowed())
            with engine.compute():  # the model's precision (bf16 where it is the faster)
                return detector.find(frame, phrases, threshold)
        except TextDetectorError as error:
            raise UserError(f"Find by text: {error}.") from error

    def _track_duration(self, model: ModelChoice, state: InferenceState, run: TrackRun, stop: StopSignal) -> int:
        return self.budget.track_seconds(run.count, len(state.obj_ids))

    def _track(self, model: ModelChoice, state: InferenceState, run: TrackRun, stop: StopSignal) -> Iterator[TrackEvent]:
        """Each tracked frame's masks as it is done, then the state (also after a stop)."""
        engine = self.engine(model)
        self._wake(engine, state)
        frames = engine.predictor.propagate_in_video(
            state, start_frame_idx=run.start, max_frame_num_to_track=run.count - 1, reverse=run.reverse)
        given = set()
        try:
            while not stop.requested:
                with engine.compute():
                    item = next(frames, None)
                if item is None:
                    break
                frame_idx, obj_ids, logits = item
                yield TrackedFrame(frame_idx, packed_from_logits(obj_ids, logits), frame_idx in given)
                given.add(frame_idx)
        finally:
            frames.close()  # ends the predictor's frame reader, also when the caller abandons us
        yield TrackDone(self._rest(engine, state))

    # ------------------------------------------------------- calls that compute nothing
    def remove_object(self, model: ModelChoice, state: InferenceState, obj_id: int) -> InferenceState:
        """The state without ``obj_id`` (only bookkeeping: runs where the app runs)."""
        if obj_id in state.obj_ids:
            self.engine(model).predictor.remove_object(state, obj_id, need_output=False)
        return state

    def reset(self, model: ModelChoice, state: InferenceState) -> InferenceState:
        """The state without any object, prompt or result (bookkeeping only)."""
        self.engine(model).predictor.reset_state(state)
        return state

