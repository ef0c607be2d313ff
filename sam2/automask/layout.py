"""Where the automatic mask generator clicks: point grids and the crops of the image.

Boxes are ``[x0, y0, x1, y1]`` in pixels (x1, y1 exclusive for crops).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Tuple

import numpy as np


def point_grid(per_side: int) -> np.ndarray:
    """(per_side**2, 2) cell centres of a per_side x per_side grid over [0, 1]^2, as (x, y),
    x varying fastest."""
    half_cell = 1 / (2 * per_side)
    centres = np.linspace(half_cell, 1 - half_cell, per_side)
    xs, ys = np.meshgrid(centres, centres)
    return np.stack([xs, ys], axis=-1).reshape(-1, 2)


def layer_point_grids(per_side: int, crop_layers: int, downscale: int) -> List[np.ndarray]:
    """One grid per crop layer; layer i has ``per_side / downscale**i`` points a side."""
    return [point_grid(int(per_side / downscale**layer)) for layer in range(crop_layers + 1)]


@dataclass(frozen=True)
class Crop:
    box: Tuple[int, int, int, int]
    layer: int


def _crop_length(length: int, crops: int, overlap: int) -> int:
    return int(math.ceil((length + overlap * (crops - 1)) / crops))


def image_crops(height: int, width: int, crop_layers: int, overlap_ratio: float) -> List[Crop]:
    """The whole image, then for layer i >= 1 a 2**i x 2**i tiling whose neighbours overlap by
    ``overlap_ratio`` of the short side (scaled by 2 / 2**i)."""
    crops = [Crop((0, 0, width, height), 0)]
    for layer in range(1, crop_layers + 1):
        per_side = 2**layer
        overlap = int(overlap_ratio * min(height, width) * (2 / per_side))
        crop_w, crop_h = _crop_length(width, per_side, overlap), _crop_length(height, per_side, overlap)
        lefts = [int((crop_w - overlap) * i) for i in range(per_side)]
        tops = [int((crop_h - overlap) * i) for i in range(per_side)]
        for left in lefts:
            for top in tops:
                crops.append(Crop((left, top, min(left + crop_w, width), min(top + crop_h, height)), layer))
    return crops
