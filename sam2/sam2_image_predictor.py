"""SAM2ImagePredictor: embed an image once, then predict masks for many prompts."""

import logging
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
import torchvision.transforms.functional as TF
from PIL import Image

from .assembly.hub import hub_files
from .assembly.model_builder import build_from_files
from .frames.source import IMAGE_MEAN, IMAGE_STD
from .modeling.mask_postprocessing import clean_small_regions
from .modeling.sam2_base import SAM2Base

logger = logging.getLogger(__name__)

# Keyword arguments of from_pretrained that belong to the predictor, not to the model.
_PREDICTOR_SETTINGS = ("mask_threshold", "max_hole_area", "max_sprinkle_area")


@dataclass
class ImageEmbedding:
    """image_embed (B, C, h, w) with the no-memory embedding added; high_res_feats
    [(B, C/8, 4h, 4w), (B, C/4, 2h, 2w)]; orig_hw: (H, W) of each image."""

    image_embed: torch.Tensor
    high_res_feats: List[torch.Tensor]
    orig_hw: List[Tuple[int, int]]

    def __getitem__(self, key: str):
        return getattr(self, key)


def image_to_model_input(image: Union[np.ndarray, Image.Image], resolution: int) -> torch.Tensor:
    """RGB uint8 (H, W, 3) array or PIL image -> normalized (3, resolution, resolution) float32."""
    if isinstance(image, Image.Image):
        image = np.array(image.convert("RGB"))
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
        shape = getattr(image, "shape", None)
        raise ValueError(f"expected an RGB image as an (H, W, 3) array or PIL image, got {type(image).__name__} {shape}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError("the image is empty")
    tensor = TF.to_tensor(image)
    tensor = TF.resize(tensor, [resolution, resolution], antialias=True)
    return TF.normalize(tensor, IMAGE_MEAN, IMAGE_STD)


class SAM2ImagePredictor:
    """Predicts masks on still images from points, boxes and low-resolution mask prompts."""

    def __init__(self, sam_model: SAM2Base, mask_threshold: float = 0.0, max_hole_area: float = 0.0,
                 max_sprinkle_area: float = 0.0, **kwargs) -> None:
        self.model = sam_model
        self.mask_threshold = mask_threshold
        self.max_hole_area = max_hole_area
        self.max_sprinkle_area = max_sprinkle_area
        self._features: Optional[ImageEmbedding] = None
        self._is_batch = False

    @classmethod
    def from_pretrained(cls, model_id: str, **kwargs) -> "SAM2ImagePredictor":
        """The predictor of a hub model id; ``mask_threshold``, ``max_hole_area`` and
        ``max_sprinkle_area`` go to the predictor, the other kwargs to ``build_sam2``."""
        own = {key: kwargs.pop(key) for key in _PREDICTOR_SETTINGS if key in kwargs}
        return cls(build_from_files(SAM2Base, *hub_files(model_id), **kwargs), **own)

    @property
    def device(self) -> torch.device:
        return self.model.device

    @property
    def _is_image_set(self) -> bool:
        return self._features is not None

    @property
    def _orig_hw(self) -> Optional[List[Tuple[int, int]]]:
        return None if self._features is None else self._features.orig_hw

    def reset_predictor(self) -> None:
        self._features = None
        self._is_batch = False

    # ---------------------------------------------------------------- embedding
    def _embed(self, images: List[Union[np.ndarray, Image.Image]]) -> ImageEmbedding:
        sizes = []
        for image in images:
            width_height = image.size if isinstance(image, Image.Image) else None
            sizes.append((width_height[1], width_height[0]) if width_height else tuple(np.asarray(image).shape[:2]))
        batch = torch.stack([image_to_model_input(image, self.model.image_size) for image in images]).to(self.device)
        features = self.model.frame_features(batch)
        embed = features.vision + self.model.no_mem_embed.view(1, -1, 1, 1)
        return ImageEmbedding(embed, list(features.high_res), sizes)

    @torch.no_grad()
    def set_image(self, image: Union[np.ndarray, Image.Image]) -> None:
        """Embed one RGB image ((H, W, 3) uint8 array or PIL image)."""
        self.reset_predictor()
        self._features = self._embed([image])

    @torch.no_grad()
    def set_image_batch(self, image_list: Sequence[np.ndarray]) -> None:
        """Embed several RGB images for predict_batch."""
        if not isinstance(image_list, (list, tuple)) or not image_list:
            raise ValueError("image_list must be a non-empty list of (H, W, 3) arrays")
        self.reset_predictor()
        self._features = self._embed(list(image_list))
        self._is_batch = True

    def get_image_embedding(self) -> torch.Tensor:
        """(B, C, h, w) embedding of the current image(s)."""
        self._require_image()
        return self._features.image_embed

    def _require_image(self) -> None:
        if self._features is None:
            raise RuntimeError("an image must be set with set_image(...) before predicting")

    # --------------------------------------------------------------- prediction
    def predict(
        self, point_coords: Optional[np.ndarray] = None, point_labels: Optional[np.ndarray] = None,
        box: Optional[np.ndarray] = None, mask_input: Optional[np.ndarray] = None, multimask_output: bool = True,
        return_logits: bool = False, normalize_coords: bool = True,
    ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Masks for the current image.

        point_coords (N, 2) or (B, N, 2) pixels (x, y), point_labels (N,) or (B, N);
        box (4,) or (B, 4) xyxy; mask_input (1, 4h, 4w) low-res logits from a previous call.
        Returns masks (C, H, W) [or (B, C, H, W)], ious (C,), low-res logits (C, 4h, 4w).
        """
        self._require_image()
        return self._predict_numpy(0, point_coords, point_labels, box, mask_input, multimask_output, return_logits, normalize_coords)

    def predict_batch(
        self, point_coords_batch=None, point_labels_batch=None, box_batch=None, mask_input_batch=None,
        multimask_output: bool = True, return_logits: bool = False, normalize_coords: bool = True,
    ):
        """predict(...) for each image of set_image_batch; returns lists of arrays."""
        self._require_image()
        if not self._is_batch:
            raise RuntimeError("predict_batch needs images set with set_image_batch(...)")
        results = ([], [], [])
        for index in range(len(self._features.orig_hw)):
            def pick(values):
                return None if values is None else values[index]

            outputs = self._predict_numpy(
                index, pick(point_coords_batch), pick(point_labels_batch), pick(box_batch), pick(mask_input_batch),
                multimask_output, return_logits, normalize_coords,
            )
            for collected, value in zip(results, outputs):
                collected.append(value)
        return results

    def _predict_numpy(self, image_index, point_coords, point_labels, box, mask_input, multimask_output, return_logits, normalize_coords):
        coords, labels, mask_tensor = self._prepare_prompts(image_index, point_coords, point_labels, box, mask_input, normalize_coords)
        masks, ious, low_res = self._predict(coords, labels, mask_tensor, multimask_output, return_logits, image_index)
        return tuple(t.squeeze(0).float().cpu().numpy() for t in (masks, ious, low_res))

    def _prepare_prompts(self, image_index, point_coords, point_labels, box, mask_input, normalize_coords):
        """-> (B, N, 2) coordinates in model pixels (box corners first), (B, N) labels, mask (B, 1, 4h, 4w)."""
        if (point_coords is None) != (point_labels is None):
            raise ValueError("point_coords and point_labels must be given together")
        height, width = self._features.orig_hw[image_index]
        scale = torch.tensor([1.0 / width, 1.0 / height] if normalize_coords else [1.0, 1.0], device=self.device)
        pieces_coords, pieces_labels = [], []
        if box is not None:
            corners = torch.as_tensor(np.asarray(box), dtype=torch.float32, device=self.device).reshape(-1, 2, 2)
            pieces_coords.append(corners * scale * self.model.image_size)
            pieces_labels.append(torch.tensor([[2, 3]], dtype=torch.int32, device=self.device).repeat(corners.shape[0], 1))
        if point_coords is not None:
            coords = torch.as_tensor(np.asarray(point_coords), dtype=torch.float32, device=self.device)
            labels = torch.as_tensor(np.asarray(point_labels), dtype=torch.int32, device=self.device)
            if coords.dim() == 2:
                coords, labels = coords[None], labels[None]
            if coords.shape[-1] != 2 or labels.shape != coords.shape[:-1]:
                raise ValueError(f"point_coords {tuple(coords.shape)} and point_labels {tuple(labels.shape)} do not match")
            pieces_coords.append(coords * scale * self.model.image_size)
            pieces_labels.append(labels)
        coords = labels = None
        if pieces_coords:
            batch = max(p.shape[0] for p in pieces_coords)
            coords = torch.cat([p.expand(batch, -1, -1) for p in pieces_coords], dim=1)
            labels = torch.cat([p.expand(batch, -1) for p in pieces_labels], dim=1)
        mask_tensor = None
        if mask_input is not None:
            mask_tensor = torch.as_tensor(np.asarray(mask_input), dtype=torch.float32, device=self.device)
            if mask_tensor.dim() == 3:
                mask_tensor = mask_tensor[None]
        return coords, labels, mask_tensor

    @torch.no_grad()
    def _predict(self, coords, labels, mask_input, multimask_output, return_logits, image_index=0):
        points = None if coords is None else (coords, labels)
        sparse, dense = self.model.sam_prompt_encoder(points=points, boxes=None, masks=mask_input)
        decoded = self.model.sam_mask_decoder(
            image_embeddings=self._features.image_embed[image_index].unsqueeze(0),
            image_pe=self.model.sam_prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            multimask_output=multimask_output,
            repeat_image=coords is not None and coords.shape[0] > 1,
            high_res_features=[level[image_index].unsqueeze(0) for level in self._features.high_res_feats],
        )
        low_res = decoded.masks.float()
        masks = F.interpolate(
            self._clean_masks(low_res), self._features.orig_hw[image_index], mode="bilinear", align_corners=False
        )
        if not return_logits:
            masks = masks > self.mask_threshold
        return masks, decoded.iou_pred, low_res.clamp(-32.0, 32.0)

    def _clean_masks(self, logits: torch.Tensor) -> torch.Tensor:
        """Fill small holes and remove small specks in (B, M, h, w) logits when configured."""
        return clean_small_regions(logits, self.mask_threshold, self.max_hole_area, self.max_sprinkle_area)
