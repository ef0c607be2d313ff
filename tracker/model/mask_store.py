"""The masks a session has shown, per frame and object, kept bit-packed."""

from typing import Dict, Iterable, List, Mapping

import numpy as np
import torch

from .packed_mask import PackedMask, pack

# frame index -> {object id: packed mask}
FrameMasks = Dict[int, PackedMask]


def packed_from_logits(obj_ids: Iterable[int], logits: torch.Tensor) -> FrameMasks:
    """The predictor's (N, 1, H, W) mask logits of ``obj_ids`` -> {object id: packed mask > 0}."""
    binary = (logits[:, 0] > 0).cpu().numpy()
    return {int(obj_id): pack(mask) for obj_id, mask in zip(obj_ids, binary)}


class MaskStore:
    """frame index -> {object id: the object's latest mask there}; memory grows by a few KB per
    frame and object (see :mod:`tracker.model.packed_mask`)."""

    def __init__(self) -> None:
        self._frames: Dict[int, FrameMasks] = {}

    def put(self, frame_idx: int, masks: Mapping[int, PackedMask]) -> None:
        """Set the masks of these objects on a frame (other objects' masks there stay)."""
        self._frames.setdefault(frame_idx, {}).update(masks)

    def packed(self, frame_idx: int) -> FrameMasks:
        return dict(self._frames.get(frame_idx, {}))

    def unpacked(self, frame_idx: int) -> Dict[int, np.ndarray]:
        """object id -> (H, W) bool mask on the frame."""
        return {obj_id: mask.unpack() for obj_id, mask in self._frames.get(frame_idx, {}).items()}

    def frames_with(self, obj_ids: Iterable[int]) -> List[int]:
        """Frames that have a mask of every one of ``obj_ids`` (none when there are no ids)."""
        wanted = set(obj_ids)
        if not wanted:
            return []
        return sorted(f for f, masks in self._frames.items() if wanted <= masks.keys())

    def areas(self, obj_id: int) -> Dict[int, int]:
        """frame index -> the object's mask area in pixels, on frames where it has a mask."""
        return {f: masks[obj_id].area for f, masks in self._frames.items() if obj_id in masks}

    def forget_object(self, obj_id: int) -> None:
        for masks in self._frames.values():
            masks.pop(obj_id, None)

    def clear(self) -> None:
        self._frames.clear()
