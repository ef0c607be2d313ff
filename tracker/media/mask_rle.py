"""COCO-style run-length encoding of binary masks (column-major, first run counts zeros)."""

from dataclasses import dataclass
from typing import Dict, Tuple

import numpy as np


@dataclass(frozen=True)
class RLEMask:
    """A binary (H, W) mask as run lengths over its pixels in column-major order."""

    size: Tuple[int, int]
    counts: np.ndarray  # uint32 run lengths, alternating background / foreground

    @property
    def area(self) -> int:
        return int(self.counts[1::2].sum())

    @property
    def nbytes(self) -> int:
        return int(self.counts.nbytes)

    def to_coco(self) -> Dict[str, object]:
        """The uncompressed COCO RLE dict: {"size": [H, W], "counts": [...]}."""
        return {"size": list(self.size), "counts": self.counts.tolist()}


def encode(mask: np.ndarray) -> RLEMask:
    """(H, W) bool/0-1 array -> RLEMask."""
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"expected a 2-D mask, got shape {mask.shape}")
    flat = mask.astype(bool).ravel(order="F")
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    edges = np.concatenate([[0], changes, [flat.size]])
    counts = np.diff(edges)
    if flat.size and flat[0]:
        counts = np.concatenate([[0], counts])
    return RLEMask((int(mask.shape[0]), int(mask.shape[1])), counts.astype(np.uint32))


def decode(rle: RLEMask) -> np.ndarray:
    """RLEMask -> (H, W) bool array."""
    height, width = rle.size
    values = np.zeros(len(rle.counts), dtype=bool)
    values[1::2] = True
    flat = np.repeat(values, rle.counts.astype(np.int64))
    if flat.size != height * width:
        raise ValueError(f"run lengths cover {flat.size} pixels, expected {height * width}")
    return flat.reshape((height, width), order="F")


def from_coco(data: Dict[str, object]) -> RLEMask:
    """Inverse of RLEMask.to_coco (uncompressed counts)."""
    height, width = data["size"]
    return RLEMask((int(height), int(width)), np.asarray(data["counts"], dtype=np.uint32))
