"""The helpers third-party code imports from the official ``sam2.utils.amg`` (the automatic
mask generator's): per-mask columns, boxes, run-length encoding, stability, point grids and
crops, backed by :mod:`sam2.automask`."""

import copy
from typing import Any, Dict, Iterator, List, Sequence, Tuple

import cv2
import numpy as np
import torch

from ..automask import layout, rle, selection

Column = (list, np.ndarray, torch.Tensor)


class MaskData:
    """Named columns with one row per mask (lists, arrays or tensors), filtered and joined
    together."""

    def __init__(self, **columns: Any) -> None:
        for value in columns.values():
            self._check(value)
        self._stats = dict(columns)

    @staticmethod
    def _check(value: Any) -> None:
        if not isinstance(value, Column):
            raise TypeError(f"MaskData holds lists, numpy arrays and torch tensors, not {type(value).__name__}")

    def __setitem__(self, key: str, value: Any) -> None:
        self._check(value)
        self._stats[key] = value

    def __delitem__(self, key: str) -> None:
        del self._stats[key]

    def __getitem__(self, key: str) -> Any:
        return self._stats[key]

    def items(self):
        return self._stats.items()

    def filter(self, keep: torch.Tensor) -> None:
        """Keep the rows ``keep`` selects (a bool mask or indices) in every column."""
        for key, value in self._stats.items():
            self._stats[key] = self._rows(key, value, keep)

    @staticmethod
    def _rows(key: str, value: Any, keep: torch.Tensor) -> Any:
        if value is None:
            return None
        if isinstance(value, torch.Tensor):
            return value[torch.as_tensor(keep, device=value.device)]
        if isinstance(value, np.ndarray):
            return value[keep.detach().cpu().numpy()]
        if isinstance(value, list):
            if keep.dtype == torch.bool:
                return [item for item, kept in zip(value, keep) if kept]
            return [value[index] for index in keep]
        raise TypeError(f"MaskData column {key} is a {type(value).__name__}")

    def cat(self, new_stats: "MaskData") -> None:
        """Append the rows of ``new_stats`` (columns it adds are copied)."""
        for key, value in new_stats.items():
            mine = self._stats.get(key)
            if mine is None:
                self._stats[key] = copy.deepcopy(value)
            elif isinstance(value, torch.Tensor):
                self._stats[key] = torch.cat([mine, value], dim=0)
            elif isinstance(value, np.ndarray):
                self._stats[key] = np.concatenate([mine, value], axis=0)
            elif isinstance(value, list):
                self._stats[key] = mine + copy.deepcopy(value)
            else:
                raise TypeError(f"MaskData column {key} is a {type(value).__name__}")

    def to_numpy(self) -> None:
        """Tensor columns become float numpy arrays on the CPU."""
        for key, value in self._stats.items():
            if isinstance(value, torch.Tensor):
                self._stats[key] = value.float().detach().cpu().numpy()


def is_box_near_crop_edge(boxes: torch.Tensor, crop_box: List[int], orig_box: List[int],
                          atol: float = 20.0) -> torch.Tensor:
    """(N, 4) boxes in crop pixels -> (N,) True where the box touches the crop's edge (within
    ``atol``) somewhere the image's edge is not."""
    return selection.cut_by_crop_edge(boxes, tuple(crop_box), tuple(orig_box), atol)


def box_xyxy_to_xywh(box_xyxy: torch.Tensor) -> torch.Tensor:
    """One box (x0, y0, x1, y1) -> (x0, y0, width, height), a new tensor."""
    box = box_xyxy.clone()
    box[2] = box_xyxy[2] - box_xyxy[0]
    box[3] = box_xyxy[3] - box_xyxy[1]
    return box


def batch_iterator(batch_size: int, *args: Sequence) -> Iterator[List[Any]]:
    """Slices of ``batch_size`` rows of each of ``args`` (all of one length), together."""
    if not args or any(len(arg) != len(args[0]) for arg in args):
        raise ValueError("batch_iterator needs inputs of one length")
    for start in range(0, len(args[0]), batch_size):
        yield [arg[start:start + batch_size] for arg in args]


def mask_to_rle_pytorch(tensor: torch.Tensor) -> List[Dict[str, Any]]:
    """(N, H, W) bool masks -> uncompressed COCO run-length encodings."""
    return rle.encode(tensor)


def rle_to_mask(encoded: Dict[str, Any]) -> np.ndarray:
    """An uncompressed run-length encoding -> (H, W) bool mask."""
    return rle.decode(encoded)


def area_from_rle(encoded: Dict[str, Any]) -> int:
    return rle.area(encoded)


def calculate_stability_score(masks: torch.Tensor, mask_threshold: float, threshold_offset: float) -> torch.Tensor:
    """(..., H, W) logits -> (...) IoU of the masks cut just above and just below the threshold."""
    return selection.stability_score(masks, mask_threshold, threshold_offset)


def build_point_grid(n_per_side: int) -> np.ndarray:
    """(n_per_side**2, 2) evenly spaced points (x, y) in [0, 1]^2, x varying fastest."""
    return layout.point_grid(n_per_side)


def build_all_layer_point_grids(n_per_side: int, n_layers: int, scale_per_layer: int) -> List[np.ndarray]:
    """A grid per crop layer, ``scale_per_layer`` times sparser each layer."""
    return layout.layer_point_grids(n_per_side, n_layers, scale_per_layer)


def generate_crop_boxes(im_size: Tuple[int, ...], n_layers: int, overlap_ratio: float) -> Tuple[List[List[int]], List[int]]:
    """(crop boxes [x0, y0, x1, y1], their layer): the image, then 4**i overlapping crops for
    each layer i."""
    crops = layout.image_crops(im_size[0], im_size[1], n_layers, overlap_ratio)
    return [list(crop.box) for crop in crops], [crop.layer for crop in crops]


def _crop_offset(crop_box: List[int], values: torch.Tensor, repeat: int) -> torch.Tensor:
    offset = torch.tensor([crop_box[:2] * repeat], device=values.device)
    return offset.unsqueeze(1) if values.dim() == 3 else offset


def uncrop_boxes_xyxy(boxes: torch.Tensor, crop_box: List[int]) -> torch.Tensor:
    """Boxes in crop pixels -> image pixels."""
    return boxes + _crop_offset(list(crop_box), boxes, 2)


def uncrop_points(points: torch.Tensor, crop_box: List[int]) -> torch.Tensor:
    """(x, y) points in crop pixels -> image pixels."""
    return points + _crop_offset(list(crop_box), points, 1)


def uncrop_masks(masks: torch.Tensor, crop_box: List[int], orig_h: int, orig_w: int) -> torch.Tensor:
    """(..., h, w) masks of a crop -> (..., orig_h, orig_w), zero outside the crop."""
    return selection.place_in_image(masks, tuple(crop_box), orig_h, orig_w)


def remove_small_regions(mask: np.ndarray, area_thresh: float, mode: str) -> Tuple[np.ndarray, bool]:
    """Fill holes (``mode="holes"``) or drop islands (``"islands"``) of fewer than
    ``area_thresh`` pixels in an (H, W) bool mask -> (mask, whether it changed). Dropping
    islands keeps the largest one when all are small."""
    if mode not in ("holes", "islands"):
        raise ValueError(f"mode must be 'holes' or 'islands', not {mode!r}")
    holes = mode == "holes"
    regions_of = ~mask if holes else mask
    count, labels, stats, _ = cv2.connectedComponentsWithStats(regions_of.astype(np.uint8), connectivity=8)
    areas = stats[1:, cv2.CC_STAT_AREA]
    small = [label + 1 for label, area in enumerate(areas) if area < area_thresh]
    if not small:
        return mask, False
    if holes:
        return np.isin(labels, [0, *small]), True
    large = [label for label in range(1, count) if label not in small]
    return np.isin(labels, large or [int(np.argmax(areas)) + 1]), True


def coco_encode_rle(uncompressed_rle: Dict[str, Any]) -> Dict[str, Any]:
    """An uncompressed run-length encoding -> pycocotools' compressed one (counts as text)."""
    return rle.to_coco(uncompressed_rle)


def batched_mask_to_box(masks: torch.Tensor) -> torch.Tensor:
    """(..., H, W) bool masks -> (..., 4) boxes x0, y0, x1, y1 (inclusive); zeros for empty masks."""
    if masks.numel() == 0:
        return torch.zeros(*masks.shape[:-2], 4, device=masks.device)
    flat = masks.reshape(-1, *masks.shape[-2:])
    return selection.mask_boxes(flat).reshape(*masks.shape[:-2], 4)
