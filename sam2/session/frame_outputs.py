"""Per-frame tracking outputs whose large tensors can move to disk and come back unchanged."""

import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import Dict, Iterator, MutableMapping, Optional, Tuple

import torch

from ..modeling.memory_selection import FrameKeys
from .tensor_spill import TensorSpill


@dataclass(frozen=True)
class _RawTensor:
    """A CPU tensor as its bytes, dtype and shape."""

    data: bytes
    dtype: str
    shape: Tuple[int, ...]


def _portable(value):
    if isinstance(value, torch.Tensor) and value.device.type == "cpu":
        raw = value.detach().contiguous().view(-1).view(torch.uint8)
        return _RawTensor(raw.numpy().tobytes(), str(value.dtype).replace("torch.", ""), tuple(value.shape))
    return value


def _from_portable(value):
    if isinstance(value, _RawTensor):
        dtype = getattr(torch, value.dtype)
        return torch.frombuffer(bytearray(value.data), dtype=torch.uint8).view(dtype).reshape(value.shape)
    return value


class FrameOutput:
    """What is kept of one object on one frame.

    pred_masks (1, 1, S/4, S/4) float32 logits; obj_ptr (1, C); object_score_logits (1, 1);
    iou_score (1, 1) the mask's predicted IoU (1 for a mask prompt);
    maskmem_features (1, C_mem, S/16, S/16) bfloat16, None until the memory is encoded.
    attention_keys caches memory attention's keys of maskmem_features while they are in memory.
    After ``spill`` the two large tensors live on disk and are read back on access.
    """

    attention_keys: Optional[FrameKeys]

    _PICKLED = ("obj_ptr", "object_score_logits", "iou_score", "_pred_masks", "_maskmem_features", "_spilled")
    __slots__ = (*_PICKLED, "attention_keys", "__weakref__")

    def __init__(self, pred_masks: torch.Tensor, obj_ptr: torch.Tensor, object_score_logits: torch.Tensor,
                 maskmem_features: Optional[torch.Tensor] = None, iou_score: Optional[torch.Tensor] = None) -> None:
        self.obj_ptr = obj_ptr
        self.object_score_logits = object_score_logits
        self.iou_score = torch.ones_like(object_score_logits) if iou_score is None else iou_score
        self._pred_masks = pred_masks
        self._maskmem_features = maskmem_features
        self._spilled = None  # (spill, key, device) once on disk
        self.attention_keys = None

    def __getstate__(self) -> dict:
        """Pickled without the attention keys (recomputed where needed); CPU tensors as raw
        bytes, ten times quicker than torch's pickling for the many small pointers of a
        long video."""
        return {name: _portable(getattr(self, name)) for name in self._PICKLED}

    def __setstate__(self, state: dict) -> None:
        for name, value in state.items():
            setattr(self, name, _from_portable(value))
        self.attention_keys = None

    @property
    def is_resident(self) -> bool:
        return self._spilled is None

    @property
    def spill_key(self) -> Optional[str]:
        """The file holding the large tensors, or None while they are in memory."""
        return None if self._spilled is None else self._spilled[1]

    def to(self, device: torch.device, storage_device: torch.device) -> None:
        """Move the small tensors to ``device`` and the large ones to ``storage_device`` (also
        where spilled ones come back to)."""
        if self.obj_ptr.device != torch.device(device):
            self.attention_keys = None
        self.obj_ptr = self.obj_ptr.to(device)
        self.object_score_logits = self.object_score_logits.to(device)
        self.iou_score = self.iou_score.to(device)
        if self._spilled is not None:
            spill, key, _ = self._spilled
            self._spilled = (spill, key, storage_device)
            return
        self._pred_masks = self._pred_masks.to(storage_device)
        if self._maskmem_features is not None:
            self._maskmem_features = self._maskmem_features.to(storage_device)

    def _load(self, name: str) -> Optional[torch.Tensor]:
        spill, key, device = self._spilled
        return spill.get(key, device).get(name)

    @property
    def pred_masks(self) -> torch.Tensor:
        return self._pred_masks if self._spilled is None else self._load("pred_masks")

    @property
    def maskmem_features(self) -> Optional[torch.Tensor]:
        return self._maskmem_features if self._spilled is None else self._load("maskmem_features")

    @maskmem_features.setter
    def maskmem_features(self, value: Optional[torch.Tensor]) -> None:
        self.restore()
        self._maskmem_features = value
        self.attention_keys = None

    def spill(self, spill: TensorSpill) -> None:
        """Move the large tensors to ``spill``; the file goes when this object goes."""
        if self._spilled is not None:
            return
        tensors = {"pred_masks": self._pred_masks}
        if self._maskmem_features is not None:
            tensors["maskmem_features"] = self._maskmem_features
        key = spill.put(tensors)
        weakref.finalize(self, spill.discard, key)
        self._spilled = (spill, key, self._pred_masks.device)
        self._pred_masks = self._maskmem_features = self.attention_keys = None

    def restore(self) -> None:
        """Bring spilled tensors back into memory (the file goes, if this store owns it)."""
        if self._spilled is not None:
            spill, key, device = self._spilled
            tensors = spill.get(key, device)
            self._pred_masks, self._maskmem_features = tensors["pred_masks"], tensors.get("maskmem_features")
            self._spilled = None
            spill.discard(key)


class SpillingOutputs(MutableMapping):
    """frame index -> FrameOutput, keeping at most ``resident_limit`` recently stored outputs
    in memory; older ones are spilled (their small tensors stay in memory). A limit of None
    keeps every output in memory."""

    def __init__(self, spill_factory, resident_limit: Optional[int]) -> None:
        self._outputs: Dict[int, FrameOutput] = {}
        self._recent: "OrderedDict[int, None]" = OrderedDict()
        self._spill_factory = spill_factory
        self.resident_limit = resident_limit

    def __getitem__(self, frame_idx: int) -> FrameOutput:
        return self._outputs[frame_idx]

    def __setitem__(self, frame_idx: int, output: FrameOutput) -> None:
        self._outputs[frame_idx] = output
        if self.resident_limit is None:
            return
        self._recent[frame_idx] = None
        self._recent.move_to_end(frame_idx)
        while len(self._recent) > self.resident_limit:
            oldest, _ = self._recent.popitem(last=False)
            self._outputs[oldest].spill(self._spill_factory())

    def __delitem__(self, frame_idx: int) -> None:
        del self._outputs[frame_idx]
        self._recent.pop(frame_idx, None)

    def __iter__(self) -> Iterator[int]:
        return iter(self._outputs)

    def __len__(self) -> int:
        return len(self._outputs)

    def __contains__(self, frame_idx) -> bool:
        return frame_idx in self._outputs

    def get(self, frame_idx, default=None):
        return self._outputs.get(frame_idx, default)

    def clear(self) -> None:
        self._outputs.clear()
        self._recent.clear()
