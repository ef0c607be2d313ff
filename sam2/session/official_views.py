"""The official inference state's per-object dicts, as read-only views of the typed state:
what third-party code (SAMURAI, SAM2Long, notebooks) reads from ``inference_state[...]``.

Views are built on access and read tensors only when an entry is looked up, so a long
session's spilled memories stay on disk until someone asks for them.
"""

import functools
from collections.abc import Mapping
from typing import Any, Callable, Dict, Iterator, List, Optional

import torch

from ..modeling.position_encoding import PositionEmbeddingSine
from .frame_outputs import FrameOutput


class LazyMapping(Mapping):
    """``keys`` -> ``make(key)``, computed on every lookup."""

    def __init__(self, keys: Callable[[], List[Any]], make: Callable[[Any], Any]) -> None:
        self._keys = keys
        self._make = make

    def __getitem__(self, key: Any) -> Any:
        if key not in self._keys():
            raise KeyError(key)
        return self._make(key)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._keys())

    def __len__(self) -> int:
        return len(self._keys())

    def __repr__(self) -> str:
        return f"{type(self).__name__}(keys={list(self._keys())})"


@functools.lru_cache(maxsize=None)
def _sine_encoding(channels: int) -> PositionEmbeddingSine:
    """One encoder per channel count, shared by every view (it caches its grids)."""
    return PositionEmbeddingSine(channels)


def memory_position(channels: Optional[int], features: Optional[torch.Tensor]) -> Optional[List[torch.Tensor]]:
    """The official ``maskmem_pos_enc`` of an output whose memory is ``features`` (B, C_mem, h, w):
    [(B, C_mem, h, w)] sine encoding of its grid (None before its memory is encoded, or for
    models whose memories are not a grid)."""
    if channels is None or features is None:
        return None
    height, width = features.shape[-2:]
    grid = _sine_encoding(channels).grid(height, width, features.device)
    return [grid[None].expand(features.shape[0], -1, -1, -1)]


def output_dict(output: FrameOutput, memory_channels: Optional[int]) -> Dict[str, Any]:
    """One object's output on one frame, with the official keys (a spilled memory is read from
    disk once)."""
    features = output.maskmem_features
    return {
        "maskmem_features": features,
        "maskmem_pos_enc": memory_position(memory_channels, features),
        "pred_masks": output.pred_masks,
        "obj_ptr": output.obj_ptr,
        "object_score_logits": output.object_score_logits,
    }


def outputs_view(outputs: Mapping, memory_channels: Optional[int]) -> LazyMapping:
    return LazyMapping(lambda: list(outputs), lambda frame: output_dict(outputs[frame], memory_channels))


def per_object(state, make: Callable[[Any], Any]) -> LazyMapping:
    """object index -> ``make(object state)``."""
    return LazyMapping(lambda: list(range(len(state.objects))), lambda index: make(state.objects[index]))


def point_inputs_per_obj(state) -> LazyMapping:
    """{obj_idx: {frame: {"point_coords": (1, N, 2), "point_labels": (1, N)}}} in model pixels."""
    return per_object(state, lambda obj: {
        frame: {"point_coords": prompt.point_coords, "point_labels": prompt.point_labels}
        for frame, prompt in obj.point_inputs.items()})


def mask_inputs_per_obj(state) -> LazyMapping:
    """{obj_idx: {frame: (1, 1, S, S) mask prompt}}."""
    return per_object(state, lambda obj: dict(obj.mask_inputs))


def output_dict_per_obj(state) -> LazyMapping:
    """{obj_idx: {"cond_frame_outputs": {frame: output}, "non_cond_frame_outputs": {...}}}."""
    channels = state.memory_pos_channels
    return per_object(state, lambda obj: {
        "cond_frame_outputs": outputs_view(obj.cond_outputs, channels),
        "non_cond_frame_outputs": outputs_view(obj.non_cond_outputs, channels)})


def temp_output_dict_per_obj(state) -> LazyMapping:
    """The outputs of prompts added since the last propagation, in the same layout."""
    channels = state.memory_pos_channels
    return per_object(state, lambda obj: {
        "cond_frame_outputs": outputs_view(obj.temp_cond_outputs, channels),
        "non_cond_frame_outputs": outputs_view(obj.temp_non_cond_outputs, channels)})


def frames_tracked_per_obj(state) -> LazyMapping:
    """{obj_idx: {frame: {"reverse": bool}}}: the frames propagation reached, and in which direction."""
    return per_object(state, lambda obj: {frame: {"reverse": reverse} for frame, reverse in obj.frames_tracked.items()})
