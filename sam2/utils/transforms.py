"""The official ``sam2.utils.transforms.SAM2Transforms``: an image to the model's input, prompt
coordinates to the model's pixels, low-resolution mask logits back to the image's size."""

from typing import Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..frames.source import IMAGE_MEAN, IMAGE_STD
from ..modeling.mask_postprocessing import clean_small_regions
from ..sam2_image_predictor import image_to_model_input


class SAM2Transforms(nn.Module):
    """What the image predictor does to its inputs and outputs at ``resolution`` (the model's
    input size): images resized to a square and normalised; masks cleaned of holes and specks
    up to the given areas (0: not cleaned) around ``mask_threshold``, then resized back."""

    def __init__(self, resolution: int, mask_threshold: float, max_hole_area: float = 0.0,
                 max_sprinkle_area: float = 0.0) -> None:
        super().__init__()
        self.resolution = resolution
        self.mask_threshold = mask_threshold
        self.max_hole_area = max_hole_area
        self.max_sprinkle_area = max_sprinkle_area
        self.mean = list(IMAGE_MEAN)
        self.std = list(IMAGE_STD)

    def __call__(self, x: np.ndarray) -> torch.Tensor:
        """An RGB (H, W, 3) uint8 image -> (3, resolution, resolution) float32."""
        return image_to_model_input(x, self.resolution)

    def forward_batch(self, img_list: Sequence[np.ndarray]) -> torch.Tensor:
        """Images -> (B, 3, resolution, resolution)."""
        return torch.stack([self(image) for image in img_list])

    def transform_coords(self, coords: torch.Tensor, normalize: bool = False,
                         orig_hw: Optional[Tuple[int, int]] = None) -> torch.Tensor:
        """(..., 2) (x, y) points -> model pixels. ``normalize``: the points are in pixels of an
        image of ``orig_hw`` (height, width); else already in [0, 1]."""
        if normalize:
            if orig_hw is None:
                raise ValueError("orig_hw is needed to normalise pixel coordinates")
            height, width = orig_hw
            coords = coords / torch.tensor([width, height], dtype=coords.dtype, device=coords.device)
        return coords * self.resolution

    def transform_boxes(self, boxes: torch.Tensor, normalize: bool = False,
                        orig_hw: Optional[Tuple[int, int]] = None) -> torch.Tensor:
        """(B, 4) boxes (x0, y0, x1, y1) -> (B, 2, 2) corners in model pixels."""
        return self.transform_coords(boxes.reshape(-1, 2, 2), normalize, orig_hw)

    def postprocess_masks(self, masks: torch.Tensor, orig_hw: Tuple[int, int]) -> torch.Tensor:
        """(B, M, h, w) mask logits -> (B, M, H, W) float logits at ``orig_hw``."""
        masks = clean_small_regions(masks.float(), self.mask_threshold, self.max_hole_area, self.max_sprinkle_area)
        return F.interpolate(masks, orig_hw, mode="bilinear", align_corners=False)
