"""The automatic mask generator's settings in one typed object: the official constructor's
keyword names and defaults, in its order (so positional calls keep working)."""

from dataclasses import dataclass, fields
from typing import FrozenSet, List, Optional

import numpy as np

OUTPUT_MODES = ("binary_mask", "uncompressed_rle", "coco_rle")


@dataclass
class MaskGeneratorSettings:
    """How points are laid out and which masks are kept (see ``SAM2AutomaticMaskGenerator``)."""

    points_per_side: Optional[int] = 32
    points_per_batch: int = 64
    pred_iou_thresh: float = 0.8
    stability_score_thresh: float = 0.95
    stability_score_offset: float = 1.0
    mask_threshold: float = 0.0
    box_nms_thresh: float = 0.7
    crop_n_layers: int = 0
    crop_nms_thresh: float = 0.7
    crop_overlap_ratio: float = 512 / 1500
    crop_n_points_downscale_factor: int = 1
    point_grids: Optional[List[np.ndarray]] = None  # one (N, 2) grid in [0, 1] per crop layer
    min_mask_region_area: int = 0
    output_mode: str = "binary_mask"
    use_m2m: bool = False
    multimask_output: bool = True

    def __post_init__(self) -> None:
        if (self.points_per_side is None) == (self.point_grids is None):
            raise ValueError("give exactly one of points_per_side and point_grids")
        if self.output_mode not in OUTPUT_MODES:
            raise ValueError(f"output_mode must be one of {OUTPUT_MODES}, not {self.output_mode!r}")
        if self.output_mode == "coco_rle":
            try:
                import pycocotools  # noqa: F401
            except ImportError as missing:  # say so now, not after the work
                raise ImportError('output_mode="coco_rle" needs pycocotools: pip install pycocotools') from missing


SETTING_NAMES: FrozenSet[str] = frozenset(field.name for field in fields(MaskGeneratorSettings))
