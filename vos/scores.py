"""The DAVIS / SA-V scores of one object on one frame: region similarity J and boundary F.

J is the IoU of the predicted and true masks (1 when both are empty). F compares their
one-pixel boundaries: a boundary pixel counts as matched when the other boundary passes
within ``ceil(0.008 * image diagonal)`` pixels of it; F is the harmonic mean of the matched
shares of the predicted boundary (precision) and of the true one (recall).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Dict, Hashable, List, Set, Tuple

import cv2
import numpy as np

BOUNDARY_FRACTION = 0.008


def region_similarity(pred: np.ndarray, gt: np.ndarray) -> float:
    """IoU of two (H, W) bool masks; 1.0 when both are empty."""
    union = np.count_nonzero(pred | gt)
    return 1.0 if union == 0 else np.count_nonzero(pred & gt) / union


def boundary_map(mask: np.ndarray) -> np.ndarray:
    """(H, W) bool: pixels whose right, lower or lower-right neighbour differs from them (the
    boundary half a pixel towards the origin); in the last row and column only the neighbour
    inside the image counts, and the corner pixel never does."""
    mask = mask.astype(bool)
    right, below, diagonal = np.zeros_like(mask), np.zeros_like(mask), np.zeros_like(mask)
    right[:, :-1], below[:-1, :], diagonal[:-1, :-1] = mask[:, 1:], mask[1:, :], mask[1:, 1:]
    edges = (mask ^ right) | (mask ^ below) | (mask ^ diagonal)
    edges[-1, :] = mask[-1, :] ^ right[-1, :]
    edges[:, -1] = mask[:, -1] ^ below[:, -1]
    edges[-1, -1] = False
    return edges


def boundary_tolerance(shape: Tuple[int, int], fraction: float = BOUNDARY_FRACTION) -> int:
    """Pixels a boundary may be off: the fraction of the image diagonal, rounded up."""
    return math.ceil(fraction * math.hypot(*shape))


def disk(radius: int) -> np.ndarray:
    """(2r+1, 2r+1) uint8 structuring element: the pixels within ``radius`` of the centre."""
    offsets = np.arange(-radius, radius + 1)
    return (offsets[:, None] ** 2 + offsets[None, :] ** 2 <= radius**2).astype(np.uint8)


def boundary_f(pred: np.ndarray, gt: np.ndarray, tolerance: int) -> float:
    """Boundary F-measure of two (H, W) bool masks with a match distance of ``tolerance``."""
    pred_edges, gt_edges = boundary_map(pred), boundary_map(gt)
    pred_count, gt_count = np.count_nonzero(pred_edges), np.count_nonzero(gt_edges)
    if pred_count == 0 or gt_count == 0:
        return 1.0 if pred_count == gt_count else 0.0
    kernel = disk(tolerance)
    near_pred = cv2.dilate(pred_edges.astype(np.uint8), kernel).astype(bool)
    near_gt = cv2.dilate(gt_edges.astype(np.uint8), kernel).astype(bool)
    precision = np.count_nonzero(pred_edges & near_gt) / pred_count
    recall = np.count_nonzero(gt_edges & near_pred) / gt_count
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


@dataclass
class ObjectScores:
    """J and F per object over the frames of one video, fed frame by frame as label maps.

    An object is scored from the first frame in which it is in the ground truth or in the
    prediction, on every frame after; only objects of the ground truth are reported.
    """

    in_gt: Set[Hashable] = field(default_factory=set)
    seen: Set[Hashable] = field(default_factory=set)
    j: Dict[Hashable, List[float]] = field(default_factory=lambda: defaultdict(list))
    f: Dict[Hashable, List[float]] = field(default_factory=lambda: defaultdict(list))

    def add_frame(self, pred: np.ndarray, gt: np.ndarray) -> None:
        """pred, gt: (H, W) label maps (0 = background) or bool masks of one object."""
        gt_ids = {value.item() for value in np.unique(gt) if value != 0}
        self.in_gt |= gt_ids
        self.seen |= gt_ids | {value.item() for value in np.unique(pred) if value != 0}
        tolerance = boundary_tolerance(pred.shape[:2])
        for obj in self.seen:
            pred_mask, gt_mask = pred == obj, gt == obj
            self.j[obj].append(region_similarity(pred_mask, gt_mask))
            self.f[obj].append(boundary_f(pred_mask, gt_mask, tolerance))

    def means(self) -> Dict[Hashable, Tuple[float, float]]:
        """Object -> (J, F) in percent, averaged over its scored frames."""
        return {obj: (100 * float(np.mean(self.j[obj])), 100 * float(np.mean(self.f[obj]))) for obj in self.in_gt}
