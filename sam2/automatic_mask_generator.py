"""Masks for everything in an image: click a grid of points (on the image and, optionally, on
overlapping crops of it), keep the confident and stable masks, drop duplicates.

Same constructor, ``generate`` output and defaults as the official ``SAM2AutomaticMaskGenerator``.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch

from sam2.automask import rle
from sam2.automask.layout import Crop, image_crops, layer_point_grids
from sam2.automask.selection import (Candidates, cut_by_crop_edge, mask_boxes, place_in_image,
                                     stability_score)
from sam2.automask.settings import SETTING_NAMES, MaskGeneratorSettings
from sam2.modeling.sam2_base import SAM2Base
from sam2.sam2_image_predictor import SAM2ImagePredictor



def _xywh(box: np.ndarray) -> List[float]:
    x0, y0, x1, y1 = (float(v) for v in box)
    return [x0, y0, x1 - x0, y1 - y0]


class SAM2AutomaticMaskGenerator:
    """Every object's mask in an image, from a grid of single-point prompts.

    A point gives ``multimask_output`` masks (3, or 1); masks whose predicted IoU is at most
    ``pred_iou_thresh`` or whose stability score is below ``stability_score_thresh`` are
    dropped, then duplicates (box IoU above ``box_nms_thresh``). With ``crop_n_layers`` > 0
    the same runs on overlapping crops (layer i: 2**i x 2**i crops, ``crop_n_points_downscale_factor``
    fewer points a side per layer) and duplicates across crops go (``crop_nms_thresh``, smaller
    crops first). ``min_mask_region_area`` fills holes and removes specks below that area
    (the predictor's post-processing); ``use_m2m`` refines each mask once with itself as the
    mask prompt. The settings are one :class:`MaskGeneratorSettings` (``self.settings``); the
    official attribute names read and write it.
    """

    def __init__(self, model: SAM2Base, *args: Any, **kwargs: Any) -> None:
        # The official keyword arguments (by name, or by position in the official order) fill
        # one MaskGeneratorSettings; other keyword arguments are ignored, as the official does.
        own = {name: kwargs.pop(name) for name in list(kwargs) if name in SETTING_NAMES}
        self.settings = settings = MaskGeneratorSettings(*args, **own)
        self.point_grids = (settings.point_grids if settings.point_grids is not None else layer_point_grids(
            settings.points_per_side, settings.crop_n_layers, settings.crop_n_points_downscale_factor))
        self.predictor = SAM2ImagePredictor(model, max_hole_area=settings.min_mask_region_area,
                                            max_sprinkle_area=settings.min_mask_region_area)

    def __getattr__(self, name: str) -> Any:
        """The official attribute names (``pred_iou_thresh``, ...) read the settings."""
        if name in SETTING_NAMES and "settings" in self.__dict__:
            return getattr(self.settings, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        """... and write them (``point_grids`` is the generator's own: the grids it uses)."""
        if name in SETTING_NAMES and name != "point_grids":
            setattr(self.settings, name, value)
        else:
            object.__setattr__(self, name, value)

    @classmethod
    def from_pretrained(cls, model_id: str, **kwargs) -> "SAM2AutomaticMaskGenerator":
        """The generator of a hub model id; the generator's own settings go to it, the other
        kwargs to ``build_sam2``."""
        from sam2.build_sam import build_sam2_hf

        own = {key: kwargs.pop(key) for key in list(kwargs) if key in SETTING_NAMES}
        return cls(build_sam2_hf(model_id, **kwargs), **own)

    @torch.no_grad()
    def generate(self, image: np.ndarray) -> List[Dict[str, Any]]:
        """(H, W, 3) uint8 RGB -> one record per mask: ``segmentation`` ((H, W) bool, or RLE),
        ``area``, ``bbox`` (x, y, w, h), ``predicted_iou``, ``point_coords`` ([[x, y]]),
        ``stability_score`` and ``crop_box`` (x, y, w, h)."""
        found = self._all_crops(image)
        records = []
        for index, encoded in enumerate(found.rles):
            records.append({
                "segmentation": self._segmentation(encoded),
                "area": rle.area(encoded),
                "bbox": _xywh(found.boxes[index].float().numpy()),
                "predicted_iou": float(found.ious[index]),
                "point_coords": [found.points[index].float().tolist()],
                "stability_score": float(found.stability[index]),
                "crop_box": _xywh(found.crop_boxes[index].float().numpy()),
            })
        return records

    def _segmentation(self, encoded: rle.Rle) -> Any:
        if self.settings.output_mode == "binary_mask":
            return rle.decode(encoded)
        return rle.to_coco(encoded) if self.settings.output_mode == "coco_rle" else encoded

    def _all_crops(self, image: np.ndarray) -> Candidates:
        height, width = image.shape[:2]
        crops = image_crops(height, width, self.settings.crop_n_layers, self.settings.crop_overlap_ratio)
        found = Candidates.join([self._one_crop(image, crop) for crop in crops])
        if len(crops) > 1:
            crop_areas = ((found.crop_boxes[:, 2] - found.crop_boxes[:, 0]) *
                          (found.crop_boxes[:, 3] - found.crop_boxes[:, 1]))
            found = found.without_duplicates(1.0 / crop_areas, self.settings.crop_nms_thresh)
        return found

    def _one_crop(self, image: np.ndarray, crop: Crop) -> Candidates:
        x0, y0, x1, y1 = crop.box
        self.predictor.set_image(image[y0:y1, x0:x1])
        crop_hw = (y1 - y0, x1 - x0)
        points = torch.as_tensor(self.point_grids[crop.layer] * np.array(crop_hw[::-1]), dtype=torch.float32)
        batches = [self._one_batch(points[start:start + self.settings.points_per_batch], crop, image.shape[:2])
                   for start in range(0, len(points), self.settings.points_per_batch)]
        self.predictor.reset_predictor()
        found = Candidates.join(batches)
        found = found.without_duplicates(found.ious, self.settings.box_nms_thresh)
        offset = torch.tensor([x0, y0])
        found.boxes = found.boxes + offset.repeat(2)
        found.points = found.points + offset
        found.crop_boxes = torch.tensor([crop.box], dtype=torch.long).repeat(len(found), 1)
        return found

    def _decode(self, points: torch.Tensor, mask_input: Optional[torch.Tensor], multimask: bool
                ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(P, 2) clicks in crop pixels -> logits (P, M, h, w), IoU estimates (P, M), low-res (P, M, 256, 256)."""
        predictor = self.predictor
        coords, labels, _ = predictor._prepare_prompts(0, points[:, None, :].numpy(),
                                                       np.ones((len(points), 1), np.int32), None, None, True)
        mask_input = None if mask_input is None else mask_input.to(predictor.device)
        logits, ious, low_res = predictor._predict(coords, labels, mask_input, multimask, True)
        return logits.float().cpu(), ious.float().cpu(), low_res.float().cpu()

    def _refined(self, points: torch.Tensor, low_res: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Each mask decoded again with its own low-res logits as the mask prompt: (N, h, w), (N,)."""
        logits, ious = [], []
        for start in range(0, len(points), self.settings.points_per_batch):
            rows = slice(start, start + self.settings.points_per_batch)
            batch_logits, batch_ious, _ = self._decode(points[rows], low_res[rows, None], False)
            logits.append(batch_logits[:, 0])
            ious.append(batch_ious[:, 0])
        return torch.cat(logits), torch.cat(ious)

    def _one_batch(self, points: torch.Tensor, crop: Crop, image_hw: Tuple[int, int]) -> Candidates:
        """Candidates of the (P, 2) clicks ``points`` (crop pixels); boxes and points stay in
        crop pixels, masks are placed in the image."""
        logits, ious, low_res = self._decode(points, None, self.settings.multimask_output)
        per_point = logits.shape[1]
        logits, ious, low_res = logits.flatten(0, 1), ious.flatten(0, 1), low_res.flatten(0, 1)
        points = points.repeat_interleave(per_point, dim=0)
        if self.settings.use_m2m:
            logits, ious = self._refined(points, low_res)
        if self.settings.pred_iou_thresh > 0:
            confident = ious > self.settings.pred_iou_thresh
            logits, ious, points = logits[confident], ious[confident], points[confident]
        stability = stability_score(logits, self.settings.mask_threshold, self.settings.stability_score_offset)
        if self.settings.stability_score_thresh > 0:
            stable = stability >= self.settings.stability_score_thresh
            logits, ious, points, stability = logits[stable], ious[stable], points[stable], stability[stable]
        masks = logits > self.settings.mask_threshold
        boxes = mask_boxes(masks)
        height, width = image_hw
        inside = ~cut_by_crop_edge(boxes, crop.box, (0, 0, width, height))
        masks = place_in_image(masks[inside], crop.box, height, width)
        return Candidates(ious[inside], stability[inside], points[inside], boxes[inside],
                          torch.zeros(int(inside.sum()), 4, dtype=torch.long), rle.encode(masks))
