"""Typed session state of the video predictor (readable like the official dict state)."""

import os
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Set

import torch

from ..frames.source import FrameSource
from ..modeling.sam2_base import FrameFeatures, PointPrompt
from ..runtime.memory_policy import DEFAULT_MEMORY_POLICY, MemoryPolicy
from ..tracking.policy import TrackingPolicy
from . import official_views
from .frame_outputs import FrameOutput, SpillingOutputs
from .tensor_spill import TensorSpill


@dataclass
class ObjectState:
    """Prompts and results of one tracked object."""

    obj_id: Any
    # Frames tracked from memory; only the most recent keep their large tensors in memory.
    non_cond_outputs: SpillingOutputs
    point_inputs: Dict[int, PointPrompt] = field(default_factory=dict)
    mask_inputs: Dict[int, torch.Tensor] = field(default_factory=dict)
    # Frames whose prompts condition the memory.
    cond_outputs: Dict[int, FrameOutput] = field(default_factory=dict)
    # Outputs of prompts added since the last propagation (memory not yet encoded).
    temp_cond_outputs: Dict[int, FrameOutput] = field(default_factory=dict)
    temp_non_cond_outputs: Dict[int, FrameOutput] = field(default_factory=dict)
    # Frame -> whether it was last tracked in reverse.
    frames_tracked: Dict[int, bool] = field(default_factory=dict)
    # The session's tracking policy's memory of this object (see sam2.tracking).
    tracker_state: Any = None

    def temp_outputs(self, is_cond: bool) -> Dict[int, FrameOutput]:
        return self.temp_cond_outputs if is_cond else self.temp_non_cond_outputs

    def latest_output(self, frame_idx: int, is_cond: bool) -> Optional[FrameOutput]:
        """The newest output of the frame: pending prompt output first, then stored results."""
        for outputs in (self.temp_outputs(is_cond), self.cond_outputs, self.non_cond_outputs):
            if frame_idx in outputs:
                return outputs[frame_idx]
        return None

    def outputs(self) -> Iterator[FrameOutput]:
        """Every stored output of the object (pending, prompted and tracked frames)."""
        for container in (self.temp_cond_outputs, self.temp_non_cond_outputs, self.cond_outputs, self.non_cond_outputs):
            yield from container.values()

    def to(self, device: torch.device, storage_device: torch.device) -> None:
        """Move the prompts and small outputs to ``device``, the large outputs to ``storage_device``."""
        for frame_idx, prompt in self.point_inputs.items():
            self.point_inputs[frame_idx] = PointPrompt(prompt.point_coords.to(device), prompt.point_labels.to(device))
        for frame_idx, mask in self.mask_inputs.items():
            self.mask_inputs[frame_idx] = mask.to(device)
        for output in self.outputs():
            output.to(device, storage_device)

    def clear_results(self) -> None:
        for container in (
            self.point_inputs, self.mask_inputs, self.cond_outputs, self.non_cond_outputs,
            self.temp_cond_outputs, self.temp_non_cond_outputs, self.frames_tracked,
        ):
            container.clear()


@dataclass
class InferenceState:
    """One video session. ``state["num_frames"]``, ``state["video_height"]`` and the other
    official keys read the matching attributes.

    A state pickles, to carry a session between processes: the copy has the same video,
    prompts and results but no cached image features, and it borrows the spill folder of
    the original (see :class:`TensorSpill`), which must outlive it. Tensors keep their
    device; move the state with :meth:`to` first to send it where that device does not exist.
    """

    images: FrameSource
    num_frames: int
    video_height: int
    video_width: int
    device: torch.device
    storage_device: torch.device
    offload_video_to_cpu: bool = False
    offload_state_to_cpu: bool = False
    objects: List[ObjectState] = field(default_factory=list)
    # frame index -> backbone features of recently used frames, least recent first.
    cached_features: "OrderedDict[int, FrameFeatures]" = field(default_factory=OrderedDict)
    spill: Optional[TensorSpill] = None
    # Cache sizes and spilling of this session (see MemoryPolicy).
    memory_policy: MemoryPolicy = DEFAULT_MEMORY_POLICY
    # Channels of the sine encoding of stored memories' grid (the official "maskmem_pos_enc");
    # None where memories are not a grid (a perceiver's latents).
    memory_pos_channels: Optional[int] = None
    # How candidates are chosen and which frames are memory (SAM 2's own by default).
    tracker: TrackingPolicy = field(default_factory=TrackingPolicy)

    def spill_store(self) -> TensorSpill:
        """The session's on-disk store for evicted memories, created on first use."""
        if self.spill is None:
            folder = self.memory_policy.spill_dir
            self.spill = TensorSpill(os.fspath(folder), caller_folder=True) if folder is not None else TensorSpill()
        return self.spill

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["cached_features"] = OrderedDict()
        return state

    def to(self, device) -> "InferenceState":
        """Move every tensor of the session to ``device`` (large outputs to the CPU instead when
        the state offloads to it); image features cached on another device are dropped."""
        device = torch.device(device)
        storage_device = torch.device("cpu") if self.offload_state_to_cpu else device
        if device != self.device:
            self.cached_features.clear()
        self.device, self.storage_device = device, storage_device
        for obj in self.objects:
            obj.to(device, storage_device)
        return self

    def spill_outputs(self) -> None:
        """Move the large tensors of every output to the spill folder (a state at rest between
        processes then carries only prompts, pointers and file names)."""
        for obj in self.objects:
            for output in obj.outputs():
                output.spill(self.spill_store())

    def restore_prompted_outputs(self) -> None:
        """Bring the outputs of prompted frames back into memory: every tracked frame reads them."""
        for obj in self.objects:
            for container in (obj.cond_outputs, obj.temp_cond_outputs, obj.temp_non_cond_outputs):
                for output in container.values():
                    output.restore()

    def spilled_keys(self) -> Set[str]:
        """The spill files that the session's outputs refer to."""
        return {output.spill_key for obj in self.objects for output in obj.outputs() if output.spill_key is not None}

    # The official state's per-object dicts, read-only (see official_views).
    point_inputs_per_obj = property(official_views.point_inputs_per_obj)
    mask_inputs_per_obj = property(official_views.mask_inputs_per_obj)
    output_dict_per_obj = property(official_views.output_dict_per_obj)
    temp_output_dict_per_obj = property(official_views.temp_output_dict_per_obj)
    frames_tracked_per_obj = property(official_views.frames_tracked_per_obj)

    @property
    def obj_ids(self) -> List[Any]:
        return [obj.obj_id for obj in self.objects]

    @property
    def obj_id_to_idx(self) -> Dict[Any, int]:
        return {obj.obj_id: index for index, obj in enumerate(self.objects)}

    @property
    def obj_idx_to_id(self) -> Dict[int, Any]:
        return dict(enumerate(self.obj_ids))

    def __getitem__(self, key: str) -> Any:
        if key.startswith("_") or not hasattr(self, key):
            raise KeyError(key)
        return getattr(self, key)

    def __setitem__(self, key: str, value: Any) -> None:
        """Only SAM2Long's settings are written, as its scripts write them after init_state
        (``state["num_pathway"] = 3``): the session then tracks with SAM2Long."""
        from ..tracking.sam2long import with_state_setting

        self.tracker = with_state_setting(self.tracker, key, value)

    def __contains__(self, key: str) -> bool:
        return not key.startswith("_") and hasattr(self, key)
