"""Which stored frames a tracking step attends to (spatial memories and object pointers)."""

from dataclasses import dataclass
from typing import Dict, List, Mapping, NamedTuple, Optional, Protocol, Sequence, Tuple

import torch


class FrameKeys(NamedTuple):
    """Memory attention's per-layer (HW, C) key projections of a stored frame's memory
    features, with the state (grid, dtype, projection weights) they were computed for."""

    state: Tuple
    per_layer: List[torch.Tensor]


class MemoryEntry(Protocol):
    """What a step needs of a stored frame: memory features (B, C_mem, h, w), pointer (B, C),
    object score logits and predicted IoU of its mask (B, 1), and room for memory attention's
    cache of its keys (kept only while it is resident)."""

    maskmem_features: Optional[torch.Tensor]
    obj_ptr: torch.Tensor
    object_score_logits: torch.Tensor
    iou_score: torch.Tensor
    attention_keys: Optional[FrameKeys]

    @property
    def is_resident(self) -> bool:
        """Whether the large tensors are in memory (not spilled to disk)."""


@dataclass
class KeyWeights:
    """Factors on the attention keys of a selection's memories (their inputs are scaled before
    the key projection): spatial (S,) one per stored frame, pointers (P,) one per pointer."""

    spatial: torch.Tensor
    pointers: torch.Tensor


@dataclass
class MemorySelection:
    """spatial: (temporal slot, entry) pairs, slot 0 for conditioning frames and
    1..num_maskmem-1 for recent frames (larger = closer); pointers: (signed or absolute
    frame distance, entry) pairs; key_weights: how strongly each memory's keys count (None:
    all alike)."""

    spatial: List[Tuple[int, MemoryEntry]]
    pointers: List[Tuple[int, MemoryEntry]]
    key_weights: Optional[KeyWeights] = None


def closest_conditioning_frames(
    frame_idx: int, cond_outputs: Mapping[int, MemoryEntry], max_count: int
) -> Tuple[Dict[int, MemoryEntry], Dict[int, MemoryEntry]]:
    """Split conditioning frames into (kept, dropped): all are kept when ``max_count`` is -1
    or large enough; otherwise the nearest before, the nearest at/after, then the nearest others."""
    if max_count == -1 or len(cond_outputs) <= max_count:
        return dict(cond_outputs), {}
    if max_count < 2:
        raise ValueError("at least 2 conditioning frames must be allowed")
    before = [t for t in cond_outputs if t < frame_idx]
    after = [t for t in cond_outputs if t >= frame_idx]
    chosen = ([max(before)] if before else []) + ([min(after)] if after else [])
    others = sorted((t for t in cond_outputs if t not in chosen), key=lambda t: abs(t - frame_idx))
    chosen += others[: max_count - len(chosen)]
    kept = {t: cond_outputs[t] for t in chosen}
    dropped = {t: v for t, v in cond_outputs.items() if t not in kept}
    return kept, dropped


def select_memories(
    frame_idx: int, cond_outputs: Mapping[int, MemoryEntry], non_cond_outputs: Mapping[int, MemoryEntry],
    num_frames: int, num_maskmem: int, max_obj_ptrs: int, max_cond_frames: int = -1, reverse: bool = False,
    signed_pointer_distance: bool = True, recent_frames: Optional[Sequence[int]] = None,
) -> MemorySelection:
    """Choose the memories for tracking ``frame_idx`` (only pointers of conditioning frames
    not in the future of the tracking direction are used). The spatial memories besides the
    conditioning frames are ``recent_frames`` (at most num_maskmem - 1, nearest last, slots
    counted down from the nearest; default: the num_maskmem - 1 frames just before)."""
    kept, dropped = closest_conditioning_frames(frame_idx, cond_outputs, max_cond_frames)
    step = -1 if reverse else 1

    def stored(t: int) -> Optional[MemoryEntry]:
        entry = non_cond_outputs.get(t)
        return dropped.get(t) if entry is None else entry

    if recent_frames is None:
        recent_frames = [frame_idx - (num_maskmem - slot) * step for slot in range(1, num_maskmem)]
    spatial: List[Tuple[int, MemoryEntry]] = [(0, entry) for entry in kept.values()]
    for slot, t in enumerate(recent_frames, start=num_maskmem - len(recent_frames)):
        entry = stored(t)
        if entry is not None:
            spatial.append((slot, entry))

    pointer_limit = min(num_frames, max_obj_ptrs)
    pointers: List[Tuple[int, MemoryEntry]] = []
    for t, entry in kept.items():
        if (t - frame_idx) * step <= 0:
            distance = (frame_idx - t) * step if signed_pointer_distance else abs(frame_idx - t)
            pointers.append((distance, entry))
    for distance in range(1, pointer_limit):
        t = frame_idx - distance * step
        if t < 0 or t >= num_frames:
            break
        entry = stored(t)
        if entry is not None:
            pointers.append((distance, entry))
    return MemorySelection(spatial, pointers)
