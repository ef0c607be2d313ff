"""Run-length encoding of masks in the COCO layout: ``{"size": [H, W], "counts": [...]}``,
runs over the pixels in column-major order, starting with a (possibly empty) run of zeros."""

from __future__ import annotations

from typing import Any, Dict, List

import numpy as np
import torch

Rle = Dict[str, Any]


def encode(masks: torch.Tensor) -> List[Rle]:
    """(N, H, W) bool masks -> one uncompressed RLE each."""
    count, height, width = masks.shape
    columns = masks.transpose(1, 2).reshape(count, height * width)
    flips = (columns[:, 1:] != columns[:, :-1]).nonzero()
    encoded = []
    for index in range(count):
        ends = flips[flips[:, 0] == index, 1] + 1
        edges = torch.cat([ends.new_zeros(1), ends, ends.new_full((1,), height * width)])
        runs = (edges[1:] - edges[:-1]).tolist()
        encoded.append({"size": [height, width], "counts": ([0] if bool(columns[index, 0]) else []) + runs})
    return encoded


def decode(rle: Rle) -> np.ndarray:
    """An uncompressed RLE -> (H, W) bool mask."""
    height, width = rle["size"]
    values = np.zeros(len(rle["counts"]), dtype=bool)
    values[1::2] = True
    flat = np.repeat(values, rle["counts"])
    return flat.reshape(width, height).T


def area(rle: Rle) -> int:
    """Pixels set in the mask: the sum of the odd runs."""
    return int(sum(rle["counts"][1::2]))


def to_coco(rle: Rle) -> Rle:
    """The compressed (string) RLE of pycocotools, ready for JSON."""
    from pycocotools import mask as coco_mask

    height, width = rle["size"]
    compressed = coco_mask.frPyObjects(rle, height, width)
    compressed["counts"] = compressed["counts"].decode("utf-8")
    return compressed
