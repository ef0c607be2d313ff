"""Which masks the automatic mask generator keeps: quality scores, boxes, crop edges, NMS."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import List, Sequence, Tuple

import torch
from torchvision.ops import batched_nms

from .rle import Rle

Box = Tuple[int, int, int, int]  # x0, y0, x1, y1


def stability_score(logits: torch.Tensor, threshold: float, offset: float) -> torch.Tensor:
    """(N, H, W) logits -> (N,) IoU of the masks cut at ``threshold + offset`` and at
    ``threshold - offset`` (the first lies inside the second)."""
    inner = (logits > threshold + offset).sum(dim=(-2, -1))
    outer = (logits > threshold - offset).sum(dim=(-2, -1))
    return inner / outer


def mask_boxes(masks: torch.Tensor) -> torch.Tensor:
    """(N, H, W) bool -> (N, 4) int64 inclusive boxes x0, y0, x1, y1; zeros for empty masks."""
    if masks.shape[0] == 0:
        return torch.zeros(0, 4, dtype=torch.long, device=masks.device)
    rows, columns = masks.any(dim=-1), masks.any(dim=-2)

    def extent(occupied: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        positions = torch.arange(occupied.shape[-1], device=occupied.device)
        first = torch.where(occupied, positions, occupied.shape[-1]).amin(dim=-1)
        last = torch.where(occupied, positions, -1).amax(dim=-1)
        return first, last

    (top, bottom), (left, right) = extent(rows), extent(columns)
    boxes = torch.stack([left, top, right, bottom], dim=-1)
    return torch.where(rows.any(dim=-1, keepdim=True), boxes, torch.zeros_like(boxes))


def cut_by_crop_edge(boxes: torch.Tensor, crop: Box, image: Box, tolerance: float = 20.0) -> torch.Tensor:
    """(N, 4) boxes in crop pixels -> (N,) True where a side lies within ``tolerance`` of the
    crop's edge but not of the image's: the object probably goes on outside the crop."""
    as_float = dict(dtype=torch.float, device=boxes.device)
    in_image = boxes.float() + torch.tensor([crop[0], crop[1], crop[0], crop[1]], **as_float)
    near_crop = (in_image - torch.tensor(crop, **as_float)).abs() <= tolerance
    near_image = (in_image - torch.tensor(image, **as_float)).abs() <= tolerance
    return (near_crop & ~near_image).any(dim=-1)


def place_in_image(masks: torch.Tensor, crop: Box, height: int, width: int) -> torch.Tensor:
    """(N, h, w) masks of a crop -> (N, height, width) masks of the image (zero outside)."""
    x0, y0, x1, y1 = crop
    if (x0, y0, x1, y1) == (0, 0, width, height):
        return masks
    return torch.nn.functional.pad(masks, (x0, width - x1, y0, height - y1), value=0)


@dataclass
class Candidates:
    """Masks kept so far, one row each: model's IoU estimate, stability score, the click that
    made it (image pixels), its box (image pixels), its crop, and the mask as RLE."""

    ious: torch.Tensor  # (N,)
    stability: torch.Tensor  # (N,)
    points: torch.Tensor  # (N, 2) x, y
    boxes: torch.Tensor  # (N, 4) inclusive x0, y0, x1, y1
    crop_boxes: torch.Tensor  # (N, 4)
    rles: List[Rle]

    def __len__(self) -> int:
        return len(self.rles)

    def take(self, rows: torch.Tensor) -> "Candidates":
        """The rows ``rows`` (indices, in that order)."""
        picked = {f.name: getattr(self, f.name)[rows] for f in fields(self) if f.name != "rles"}
        return Candidates(**picked, rles=[self.rles[int(row)] for row in rows])

    def without_duplicates(self, scores: torch.Tensor, iou_threshold: float) -> "Candidates":
        """Box NMS: the best-scoring of boxes overlapping by more than ``iou_threshold``,
        sorted by decreasing score."""
        keep = batched_nms(self.boxes.float(), scores, torch.zeros(len(self), dtype=torch.long), iou_threshold)
        return self.take(keep)

    @staticmethod
    def join(parts: Sequence["Candidates"]) -> "Candidates":
        joined = {f.name: torch.cat([getattr(part, f.name) for part in parts]) for f in fields(Candidates)
                  if f.name != "rles"}
        return Candidates(**joined, rles=[rle for part in parts for rle in part.rles])
