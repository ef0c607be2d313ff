"""SAM2VideoPredictor: interactive multi-object tracking with the official API."""

from types import MappingProxyType
from typing import Any, ClassVar, Iterator, List, Mapping, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from .assembly.hub import hub_files
from .assembly.model_builder import build_from_files
from .frames.opening import open_frame_source
from .frames.prefetch import frame_prefetcher
from .modeling.mask_postprocessing import fill_holes_in_mask_scores, keep_highest_object
from .modeling.sam2_base import NO_OBJ_SCORE, FrameFeatures, PointPrompt, SAM2Base, TrackOutput
from .prompts import FramePrompt, prompted_frames, read_prompts
from .runtime import cpu_allocator
from .runtime.memory_policy import DEFAULT_MEMORY_POLICY, MemoryPolicy
from .session.frame_outputs import FrameOutput, SpillingOutputs
from .session.state import InferenceState, ObjectState
from .tracking import TrackerChoice, make_tracker
from .tracking.policy import Revisions, StepOutcome

# Mask logits used as a prompt are clamped to this range.
PREVIOUS_MASK_CLAMP = 32.0


def _own_row(batch: Optional[torch.Tensor], row: int) -> Optional[torch.Tensor]:
    """Row ``row`` of a batch as (1, ...) with storage of its own: a view would keep (and
    spill, and pickle) the whole batch's."""
    if batch is None:
        return None
    return batch if batch.shape[0] == 1 else batch[row : row + 1].clone()


class UnknownObjectError(ValueError, RuntimeError):
    """An object id that the session does not know."""


class FrameIndexError(ValueError, IndexError):
    """A frame index outside the video."""


class SAM2VideoPredictor(SAM2Base):
    """SAM 2 with session state: prompts on any frame, propagation in both directions."""

    # Builders hand it the tracker a config's SAMURAI keys ask for.
    tracks_videos: ClassVar[bool] = True

    # Also binarize click masks for the memory encoder and fill holes up to 8 pixels.
    postprocessing_defaults: ClassVar[Mapping[str, Any]] = MappingProxyType(dict(
        SAM2Base.postprocessing_defaults, binarize_mask_from_pts_for_mem_enc=True, fill_hole_area=8,
    ))

    def __init__(
        self, *args, fill_hole_area: int = 0, non_overlap_masks: bool = False,
        add_all_frames_to_correct_as_cond: bool = False, vos_optimized: bool = False,
        tracker: TrackerChoice = "sam2", **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        # The sessions' tracking policy unless init_state names another (see sam2.tracking).
        self.tracker = make_tracker(tracker).settings
        self.fill_hole_area = fill_hole_area
        self.non_overlap_masks = non_overlap_masks
        self.add_all_frames_to_correct_as_cond = add_all_frames_to_correct_as_cond
        if vos_optimized:
            # The modules whose input shapes are fixed by the model (image size, memory size)
            # are compiled; prompt-dependent ones are not, so clicks never trigger a recompile.
            self.image_encoder.forward = torch.compile(self.image_encoder.forward, dynamic=False)
            self.memory_encoder.forward = torch.compile(self.memory_encoder.forward, dynamic=False)

    @classmethod
    def from_pretrained(cls, model_id: str, **kwargs) -> "SAM2VideoPredictor":
        """The predictor of a hub model id (e.g. "facebook/sam2.1-hiera-tiny"); kwargs as in
        ``build_sam2_video_predictor``."""
        return build_from_files(cls, *hub_files(model_id), **kwargs)

    # ------------------------------------------------------------------ session
    @torch.inference_mode()
    def init_state(
        self, video_path, offload_video_to_cpu: bool = False, offload_state_to_cpu: bool = False,
        async_loading_frames: bool = False, *, memory_policy: Optional[MemoryPolicy] = None,
        tracker: Optional[TrackerChoice] = None,
    ) -> InferenceState:
        """Open a video (JPEG folder, video file or list/array of frames) and encode frame 0.

        Frames are decoded on demand, so ``async_loading_frames`` needs no thread here.
        ``memory_policy`` (default: :data:`DEFAULT_MEMORY_POLICY`) sets the session's memory limits;
        ``tracker`` (a name such as "samurai", settings or a policy; default: the predictor's
        ``tracker``) how candidates are chosen and which frames are memory.
        """
        tracking = make_tracker(self.tracker if tracker is None else tracker)
        policy = DEFAULT_MEMORY_POLICY if memory_policy is None else memory_policy
        frames = open_frame_source(
            video_path, cache_size=policy.model_input_cache_frames, decoded_cache_bytes=policy.decoded_cache_bytes
        )
        device = self.device
        state = InferenceState(
            images=frames,
            num_frames=frames.num_frames,
            video_height=frames.video_height,
            video_width=frames.video_width,
            device=device,
            storage_device=torch.device("cpu") if offload_state_to_cpu else device,
            offload_video_to_cpu=offload_video_to_cpu,
            offload_state_to_cpu=offload_state_to_cpu,
            memory_policy=policy,
            memory_pos_channels=self._memory_position_channels(),
            tracker=tracking,
        )
        self._frame_features(state, 0)
        return state

    def _memory_position_channels(self) -> Optional[int]:
        """Channels of the sine encoding of a stored memory's grid (None: memories are latents)."""
        if self.spatial_perceiver is not None:
            return None
        return 2 * self.memory_encoder.position_encoding.feats_per_axis

    @torch.inference_mode()
    def reset_state(self, inference_state: InferenceState) -> None:
        """Forget all objects, prompts and results (the video stays open)."""
        for obj in inference_state.objects:
            obj.clear_results()
        inference_state.objects.clear()

    # ------------------------------------------------- prompts read back (our addition)
    def get_prompts(self, inference_state: InferenceState, obj_id=None, frame_idx: Optional[int] = None
                    ) -> List[FramePrompt]:
        """The session's clicks, boxes and mask prompts in video pixels, per object and frame
        (only ``obj_id``'s, only on ``frame_idx``, when given): see :func:`sam2.prompts.read_prompts`."""
        return read_prompts(inference_state, self.image_size, obj_id, frame_idx)

    def prompted_frames(self, inference_state: InferenceState, obj_id=None) -> List[int]:
        """Frames with a prompt of ``obj_id`` (or of any object), ascending."""
        return prompted_frames(inference_state, obj_id)

    # ------------------------------------------------------------- validation
    def _check_frame(self, state: InferenceState, frame_idx) -> int:
        if isinstance(frame_idx, bool) or not isinstance(frame_idx, (int, np.integer)):
            raise TypeError(f"frame_idx must be an int, got {type(frame_idx).__name__}")
        if not 0 <= frame_idx < state.num_frames:
            raise FrameIndexError(f"frame_idx {frame_idx} is out of range: the video has frames 0..{state.num_frames - 1}")
        return int(frame_idx)

    def _existing_object(self, state: InferenceState, obj_id) -> Tuple[int, ObjectState]:
        for index, obj in enumerate(state.objects):
            if obj.obj_id == obj_id:
                return index, obj
        raise UnknownObjectError(f"unknown object id {obj_id!r}; existing object ids: {state.obj_ids}")

    def _object(self, state: InferenceState, obj_id) -> Tuple[int, ObjectState]:
        """The object with ``obj_id``, created if it is new."""
        try:
            return self._existing_object(state, obj_id)
        except UnknownObjectError:
            outputs = SpillingOutputs(state.spill_store, state.memory_policy.resident_limit(self.num_maskmem))
            state.objects.append(ObjectState(obj_id, outputs, tracker_state=state.tracker.new_object_state()))
            return len(state.objects) - 1, state.objects[-1]

    def _prompt_points(self, state, points, labels, box, normalize_coords) -> Tuple[torch.Tensor, torch.Tensor]:
        """Validated prompt as (1, N, 2) model-input coordinates and (1, N) int32 labels."""
        if (points is None) != (labels is None):
            raise ValueError("points and labels must be provided together")
        if points is None and box is None:
            raise ValueError("at least one of points or box must be provided")
        coords = torch.zeros(1, 0, 2) if points is None else torch.as_tensor(np.asarray(points), dtype=torch.float32)
        label_tensor = torch.zeros(1, 0, dtype=torch.int32) if labels is None else torch.as_tensor(np.asarray(labels), dtype=torch.int32)
        if coords.dim() == 2:
            coords = coords.unsqueeze(0)
        if label_tensor.dim() == 1:
            label_tensor = label_tensor.unsqueeze(0)
        if coords.dim() != 3 or coords.shape[-1] != 2 or coords.shape[0] != 1:
            raise ValueError(f"points must have shape (N, 2), got {tuple(coords.shape)}")
        if label_tensor.shape != coords.shape[:2]:
            raise ValueError(f"labels shape {tuple(label_tensor.shape)} does not match points {tuple(coords.shape)}")
        if not bool(torch.isin(label_tensor, torch.tensor([0, 1, 2, 3], dtype=torch.int32)).all()):
            raise ValueError("labels must be 1 (include) or 0 (exclude)")
        if box is not None:
            box_tensor = torch.as_tensor(np.asarray(box), dtype=torch.float32)
            if box_tensor.numel() != 4:
                raise ValueError(f"box must have 4 numbers (x0, y0, x1, y1), got shape {tuple(box_tensor.shape)}")
            coords = torch.cat([box_tensor.reshape(1, 2, 2), coords], dim=1)
            label_tensor = torch.cat([torch.tensor([[2, 3]], dtype=torch.int32), label_tensor], dim=1)
        if not bool(torch.isfinite(coords).all()):
            raise ValueError("point and box coordinates must be finite numbers")
        limits = torch.tensor([state.video_width, state.video_height], dtype=torch.float32) if normalize_coords else torch.ones(2)
        outside = (coords < 0) | (coords > limits)
        if bool(outside.any()):
            bad = coords[outside.any(dim=-1)][0].tolist()
            raise ValueError(
                f"point {bad} is outside the frame (x in [0, {float(limits[0]):g}], y in [0, {float(limits[1]):g}])"
            )
        if normalize_coords:
            coords = coords / limits
        return (coords * self.image_size).to(state.device), label_tensor.to(state.device)

    # ---------------------------------------------------------------- prompts
    @torch.inference_mode()
    def add_new_points_or_box(
        self, inference_state: InferenceState, frame_idx: int, obj_id, points=None, labels=None,
        clear_old_points: bool = True, normalize_coords: bool = True, box=None,
    ):
        """Add clicks (label 1 include, 0 exclude) and/or a box (x0, y0, x1, y1) for one object.

        Returns (frame_idx, obj_ids, masks) with masks (num_objects, 1, H, W) logits at video size.
        """
        state = inference_state
        frame_idx = self._check_frame(state, frame_idx)
        if box is not None and not clear_old_points:
            raise ValueError("a box must come before any click: use clear_old_points=True with a box")
        coords, labels_tensor = self._prompt_points(state, points, labels, box, normalize_coords)
        _, obj = self._object(state, obj_id)
        previous = None if clear_old_points else obj.point_inputs.get(frame_idx)
        prompt = PointPrompt(coords, labels_tensor) if previous is None else previous.extended(coords, labels_tensor)
        obj.point_inputs[frame_idx] = prompt
        obj.mask_inputs.pop(frame_idx, None)
        return self._run_prompt(state, obj, frame_idx, point_inputs=prompt, mask_inputs=None)

    def add_new_points(self, *args, **kwargs):
        """Alias of add_new_points_or_box (kept for old code)."""
        return self.add_new_points_or_box(*args, **kwargs)

    @torch.inference_mode()
    def add_new_mask(self, inference_state: InferenceState, frame_idx: int, obj_id, mask):
        """Prompt one object with a (H, W) binary mask (any size; resized to the model input)."""
        state = inference_state
        frame_idx = self._check_frame(state, frame_idx)
        mask_tensor = torch.as_tensor(np.asarray(mask))
        if mask_tensor.dim() != 2 or mask_tensor.numel() == 0:
            raise ValueError(f"mask must be a non-empty 2-D array (H, W), got shape {tuple(mask_tensor.shape)}")
        mask_input = mask_tensor.to(torch.bool).float()[None, None].to(state.device)
        if mask_input.shape[-2:] != (self.image_size, self.image_size):
            mask_input = F.interpolate(
                mask_input, size=(self.image_size, self.image_size), mode="bilinear", align_corners=False, antialias=True
            )
            mask_input = (mask_input >= 0.5).float()
        _, obj = self._object(state, obj_id)
        obj.mask_inputs[frame_idx] = mask_input
        obj.point_inputs.pop(frame_idx, None)
        return self._run_prompt(state, obj, frame_idx, point_inputs=None, mask_inputs=mask_input)

    def _run_prompt(self, state, obj: ObjectState, frame_idx, point_inputs, mask_inputs):
        """Segment ``obj`` on a prompted frame and return all objects' masks there."""
        is_init_cond_frame = frame_idx not in obj.frames_tracked
        reverse = False if is_init_cond_frame else obj.frames_tracked[frame_idx]
        is_cond = is_init_cond_frame or self.add_all_frames_to_correct_as_cond
        previous_logits = None
        if point_inputs is not None:
            previous = obj.latest_output(frame_idx, is_cond)
            if previous is not None:
                previous_logits = previous.pred_masks.to(state.device).clamp(-PREVIOUS_MASK_CLAMP, PREVIOUS_MASK_CLAMP)
        output, _ = self._infer_frame(
            state, obj, frame_idx, is_init_cond_frame, point_inputs, mask_inputs, reverse,
            run_mem_encoder=False, prev_sam_mask_logits=previous_logits,
        )
        obj.temp_outputs(is_cond)[frame_idx] = output
        masks = self._consolidated_video_masks(state, frame_idx, is_cond)
        return frame_idx, state.obj_ids, masks

    # ---------------------------------------------------------------- running
    def _frame_features(self, state: InferenceState, frame_idx: int, keep: bool = True) -> FrameFeatures:
        """Backbone features of one frame (batch 1); those of the few most recent frames are
        kept, so prompts on several frames are not encoded again before tracking. Tracking
        passes ``keep=False``: it reads each frame once, and features (and model inputs) kept
        for a few frames among each frame's short-lived blocks fragmented the C heap, whose
        resident size then grew ~0.5 MB a frame (hiera-t, 512 px)."""
        cache = state.cached_features
        if frame_idx in cache:
            cache.move_to_end(frame_idx)
            return cache[frame_idx]
        image = state.images.model_input(frame_idx, self.image_size, keep=keep).to(state.device).float()[None]
        features = self.frame_features(image)
        if not keep:
            return features
        cache[frame_idx] = features
        while len(cache) > state.memory_policy.feature_cache_frames:
            cache.popitem(last=False)
        return features

    def _infer_frame(
        self, state, obj: ObjectState, frame_idx, is_init_cond_frame, point_inputs, mask_inputs, reverse,
        run_mem_encoder, prev_sam_mask_logits=None,
    ) -> Tuple[FrameOutput, torch.Tensor]:
        """One tracking step of one object -> (stored output, low-res mask logits on device)."""
        step: TrackOutput = self.track_step(
            frame_idx=frame_idx,
            is_init_cond_frame=is_init_cond_frame,
            features=self._frame_features(state, frame_idx),
            point_inputs=point_inputs,
            mask_inputs=mask_inputs,
            cond_outputs=obj.cond_outputs,
            non_cond_outputs=obj.non_cond_outputs,
            num_frames=state.num_frames,
            track_in_reverse=reverse,
            run_mem_encoder=run_mem_encoder,
            prev_sam_mask_logits=prev_sam_mask_logits,
            rules=state.tracker.rules(self, frame_idx, reverse, [obj]),
        )
        outputs, masks = self._frame_outputs(state, step)
        return outputs[0], masks

    def _frame_outputs(self, state: InferenceState, step: TrackOutput) -> Tuple[List[FrameOutput], torch.Tensor]:
        """Split a step of B objects into stored outputs; also its (B, 1, h, w) mask logits."""
        masks = step.pred_masks
        if self.fill_hole_area > 0:
            masks = fill_holes_in_mask_scores(masks, self.fill_hole_area)
        memory = None
        if step.maskmem_features is not None:
            memory = step.maskmem_features.to(torch.bfloat16).to(state.storage_device)
        stored_masks = masks.to(state.storage_device)
        outputs = [
            FrameOutput(
                pred_masks=_own_row(stored_masks, row),
                obj_ptr=_own_row(step.obj_ptr, row),
                object_score_logits=_own_row(step.object_score_logits, row),
                maskmem_features=_own_row(memory, row),
                iou_score=_own_row(step.iou_score, row),
            )
            for row in range(masks.shape[0])
        ]
        return outputs, masks

    def _track_objects(self, state: InferenceState, objects: List[ObjectState], frame_idx: int, reverse: bool) -> torch.Tensor:
        """Track ``objects`` on a frame from their memories, store the results (and let the
        session's tracker learn from them), return their (N, 1, h, w) mask logits."""
        features = self._frame_features(state, frame_idx, keep=False)
        step = state.tracker.track(self, frame_idx, features, objects, state.num_frames, reverse, state.storage_device)
        if step is None:
            step = self.track_objects(
                frame_idx, features, [(obj.cond_outputs, obj.non_cond_outputs) for obj in objects], state.num_frames,
                reverse, rules=state.tracker.rules(self, frame_idx, reverse, objects),
            )
        outputs, masks = self._frame_outputs(state, step)
        for obj, output in zip(objects, outputs):
            obj.non_cond_outputs[frame_idx] = output

        def make_conditioning(row: int) -> None:
            obj = objects[row]
            output = obj.non_cond_outputs.pop(frame_idx)
            self._encode_pending_memory(state, frame_idx, output, features)
            obj.cond_outputs[frame_idx] = output

        state.tracker.after_step(StepOutcome(
            frame_idx, objects, outputs, step.candidates, lambda logits: self._video_size(state, logits),
            make_conditioning,
        ))
        return masks

    def _encode_pending_memory(
        self, state: InferenceState, frame_idx: int, output: FrameOutput, features: Optional[FrameFeatures] = None
    ) -> None:
        """Encode the memory of a prompted frame from its (possibly corrected) low-res mask
        (binarised, as a click's), on the frame's ``features`` (default: computed or cached)."""
        high_res = F.interpolate(
            output.pred_masks.to(state.device), size=(self.image_size, self.image_size),
            mode="bilinear", align_corners=False,
        )
        features = self._frame_features(state, frame_idx) if features is None else features
        memory = self._encode_new_memory(features, high_res, output.object_score_logits, is_mask_from_pts=True)
        output.maskmem_features = memory.to(torch.bfloat16).to(state.storage_device)

    def _video_size(self, state: InferenceState, logits: torch.Tensor) -> torch.Tensor:
        """(N, M, h, w) logits -> (N, M, H, W) at the video's size (as outputs are, before the
        non-overlap rule)."""
        return F.interpolate(logits.to(state.device).float(), size=(state.video_height, state.video_width),
                             mode="bilinear", align_corners=False)

    def _to_video_resolution(self, state: InferenceState, masks: torch.Tensor) -> torch.Tensor:
        """(N, 1, h, w) logits of all objects -> (N, 1, H, W) at video size (with the non-overlap
        rule if set)."""
        masks = masks.to(state.device)
        if masks.shape[-2:] != (state.video_height, state.video_width):
            masks = self._video_size(state, masks)
        if self.non_overlap_masks:
            masks = keep_highest_object(masks)
        return masks

    def _consolidated_video_masks(self, state: InferenceState, frame_idx: int, is_cond: bool) -> torch.Tensor:
        """Every object's newest mask on a frame, (N, 1, H, W) logits; NO_OBJ_SCORE where none."""
        masks = torch.full(
            (len(state.objects), 1, state.video_height, state.video_width), NO_OBJ_SCORE,
            dtype=torch.float32, device=state.storage_device,
        )
        for index, obj in enumerate(state.objects):
            output = obj.latest_output(frame_idx, is_cond)
            if output is None:
                continue
            low_res = output.pred_masks.to(masks.device)
            masks[index : index + 1] = F.interpolate(low_res, size=masks.shape[-2:], mode="bilinear", align_corners=False)
        return self._to_video_resolution(state, masks)

    @torch.inference_mode()
    def propagate_in_video_preflight(self, inference_state: InferenceState) -> None:
        """Encode the memories of newly prompted frames and move them into the memory bank."""
        state = inference_state
        if not state.objects:
            raise RuntimeError("no points, boxes or masks have been added; add a prompt before propagating")
        for obj in state.objects:
            for is_cond in (False, True):
                pending = obj.temp_outputs(is_cond)
                target = obj.cond_outputs if is_cond else obj.non_cond_outputs
                for frame_idx, output in pending.items():
                    if output.maskmem_features is None:
                        self._encode_pending_memory(state, frame_idx, output)
                    target[frame_idx] = output
                pending.clear()
            if not obj.cond_outputs:
                raise RuntimeError(f"object id {obj.obj_id!r} has no prompts; add points, a box or a mask first")
            for frame_idx in obj.cond_outputs:
                obj.non_cond_outputs.pop(frame_idx, None)

    @torch.inference_mode()
    def propagate_in_video(
        self, inference_state: InferenceState, start_frame_idx: Optional[int] = None,
        max_frame_num_to_track: Optional[int] = None, reverse: bool = False,
    ) -> Iterator[Tuple[int, List[Any], torch.Tensor]]:
        """Track all objects frame by frame; yields (frame_idx, obj_ids, (N, 1, H, W) logits).

        A tracker that revises earlier frames when the run ends (SAM2Long: the best pathway's
        lineage) has those frames yielded once more, in tracking order, after the last one;
        a run stopped early keeps the masks already yielded."""
        state = inference_state
        self.propagate_in_video_preflight(state)
        if start_frame_idx is None:
            start_frame_idx = min(t for obj in state.objects for t in obj.cond_outputs)
        start_frame_idx = self._check_frame(state, start_frame_idx)
        state.tracker.start_tracking(state.objects, start_frame_idx, reverse)
        if max_frame_num_to_track is None:
            max_frame_num_to_track = state.num_frames
        if max_frame_num_to_track < 0:
            raise ValueError("max_frame_num_to_track must not be negative")
        if reverse:
            end = max(start_frame_idx - max_frame_num_to_track, 0)
            order = range(start_frame_idx, end - 1, -1) if start_frame_idx > 0 else range(0)
        else:
            end = min(start_frame_idx + max_frame_num_to_track, state.num_frames - 1)
            order = range(start_frame_idx, end + 1)
        obj_ids = state.obj_ids
        order = list(order)
        finished = False
        try:
            yield from self._propagate(state, order, reverse)
            finished = True
        finally:
            revisions = state.tracker.end_tracking(state.objects, finished)
        revised = self._install_revisions(state, revisions)
        for frame_idx in (t for t in order if t in revised):
            yield frame_idx, obj_ids, self._consolidated_video_masks(state, frame_idx, is_cond=False)

    def _propagate(self, state: InferenceState, order: List[int], reverse: bool
                   ) -> Iterator[Tuple[int, List[Any], torch.Tensor]]:
        """The frames of ``order`` tracked one after another, as propagate_in_video yields them."""
        obj_ids = state.obj_ids
        with frame_prefetcher(self.device) as prefetch:
            for position, frame_idx in enumerate(order):
                if position + 1 < len(order):
                    prefetch(state.images.model_input, order[position + 1], self.image_size)
                to_track = [obj for obj in state.objects if frame_idx not in obj.cond_outputs]
                tracked = iter(self._track_objects(state, to_track, frame_idx, reverse) if to_track else [])
                per_object = []
                for obj in state.objects:
                    if frame_idx in obj.cond_outputs:
                        per_object.append(obj.cond_outputs[frame_idx].pred_masks.to(state.device))
                    else:
                        per_object.append(next(tracked)[None])
                    obj.frames_tracked[frame_idx] = reverse
                if self.device.type == "cpu" and (position + 1) % state.memory_policy.frames_between_trims == 0:
                    cpu_allocator.release_free_memory()
                yield frame_idx, obj_ids, self._to_video_resolution(state, torch.cat(per_object, dim=0))

    def _install_revisions(self, state: InferenceState, revisions: Revisions) -> set:
        """Store a tracker's revised outputs (object row -> frame -> FrameOutput) as the objects'
        tracked outputs, holes filled as tracked masks are; returns the frames revised."""
        frames = set()
        for row, outputs in revisions.items():
            obj = state.objects[row]
            for frame_idx, output in outputs.items():
                masks = output.pred_masks
                if self.fill_hole_area > 0:
                    masks = fill_holes_in_mask_scores(masks.to(state.device), self.fill_hole_area).to(state.storage_device)
                obj.non_cond_outputs[frame_idx] = FrameOutput(
                    pred_masks=masks, obj_ptr=output.obj_ptr, object_score_logits=output.object_score_logits,
                    maskmem_features=output.maskmem_features, iou_score=output.iou_score,
                )
                frames.add(frame_idx)
        return frames

    # ---------------------------------------------------------------- editing
    @torch.inference_mode()
    def clear_all_prompts_in_frame(self, inference_state: InferenceState, frame_idx: int, obj_id, need_output: bool = True):
        """Remove one object's prompts on one frame; its result there becomes an ordinary tracked frame."""
        state = inference_state
        frame_idx = self._check_frame(state, frame_idx)
        _, obj = self._existing_object(state, obj_id)
        obj.point_inputs.pop(frame_idx, None)
        obj.mask_inputs.pop(frame_idx, None)
        obj.temp_cond_outputs.pop(frame_idx, None)
        obj.temp_non_cond_outputs.pop(frame_idx, None)
        output = obj.cond_outputs.pop(frame_idx, None)
        if output is not None:
            obj.non_cond_outputs[frame_idx] = output
            obj.frames_tracked.pop(frame_idx, None)
        if not need_output:
            return None
        is_cond = any(frame_idx in other.temp_cond_outputs for other in state.objects)
        return frame_idx, state.obj_ids, self._consolidated_video_masks(state, frame_idx, is_cond)

    @torch.inference_mode()
    def remove_object(self, inference_state: InferenceState, obj_id, strict: bool = False, need_output: bool = True):
        """Remove an object; returns (obj_ids, [(frame_idx, masks) of its prompted frames])."""
        state = inference_state
        try:
            index, obj = self._existing_object(state, obj_id)
        except UnknownObjectError:
            if strict:
                raise
            return state.obj_ids, []
        if len(state.objects) == 1:
            self.reset_state(state)
            return state.obj_ids, []
        prompted = sorted(set(obj.point_inputs) | set(obj.mask_inputs))
        for frame_idx in prompted:
            self.clear_all_prompts_in_frame(state, frame_idx, obj_id, need_output=False)
        del state.objects[index]
        updated = []
        if need_output:
            for frame_idx in prompted:
                is_cond = any(frame_idx in other.temp_cond_outputs for other in state.objects)
                updated.append((frame_idx, self._consolidated_video_masks(state, frame_idx, is_cond)))
        return state.obj_ids, updated
