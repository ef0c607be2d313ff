"""Mask clean-up that runs on any device: small-hole filling and non-overlap constraints."""

import cv2
import numpy as np
import torch

HOLE_FILL_LOGIT = 0.1


def small_components(binary: np.ndarray, max_area: int) -> np.ndarray:
    """Pixels of 8-connected components of ``binary`` (H, W) bool with area <= max_area."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(binary.astype(np.uint8), connectivity=8)
    if count <= 1:
        return np.zeros_like(binary, dtype=bool)
    small = stats[:, cv2.CC_STAT_AREA] <= max_area
    small[0] = False  # label 0 is the complement of ``binary``
    return small[labels]


def fill_holes_in_mask_scores(mask_logits: torch.Tensor, max_area: int) -> torch.Tensor:
    """Turn background holes of at most ``max_area`` pixels into weak foreground (logit 0.1).

    mask_logits: (N, 1, H, W) -> same shape.
    """
    if max_area <= 0:
        raise ValueError("max_area must be positive")
    background = (mask_logits <= 0).cpu().numpy()
    holes = np.zeros_like(background)
    for index in range(background.shape[0]):
        holes[index, 0] = small_components(background[index, 0], max_area)
    if not holes.any():
        return mask_logits
    holes_tensor = torch.from_numpy(holes).to(mask_logits.device)
    return torch.where(holes_tensor, torch.as_tensor(HOLE_FILL_LOGIT, dtype=mask_logits.dtype), mask_logits)


def clean_small_regions(logits: torch.Tensor, threshold: float, max_hole_area: float,
                        max_sprinkle_area: float) -> torch.Tensor:
    """Fill background holes of at most ``max_hole_area`` pixels (to ``threshold + 10``) and
    remove foreground specks of at most ``max_sprinkle_area`` (to ``threshold - 10``), both
    found on the logits as given (an area of 0 turns that step off).

    logits: (B, M, h, w) -> same shape.
    """
    if max_hole_area <= 0 and max_sprinkle_area <= 0:
        return logits
    flat = logits.flatten(0, 1).cpu().numpy()
    holes = np.zeros(flat.shape, dtype=bool)
    specks = np.zeros(flat.shape, dtype=bool)
    for index, mask in enumerate(flat):
        if max_hole_area > 0:
            holes[index] = small_components(mask <= threshold, max_hole_area)
        if max_sprinkle_area > 0:
            specks[index] = small_components(mask > threshold, max_sprinkle_area)
    holes_t = torch.from_numpy(holes).reshape(logits.shape).to(logits.device)
    specks_t = torch.from_numpy(specks).reshape(logits.shape).to(logits.device)
    logits = torch.where(holes_t, threshold + 10.0, logits)
    return torch.where(specks_t, threshold - 10.0, logits)


def keep_highest_object(mask_logits: torch.Tensor) -> torch.Tensor:
    """Where objects overlap, keep the highest-scoring one and push the others to <= -10.

    mask_logits: (N_objects, 1, H, W) -> same shape.
    """
    if mask_logits.shape[0] == 1:
        return mask_logits
    winner = mask_logits.argmax(dim=0, keepdim=True)
    object_index = torch.arange(mask_logits.shape[0], device=mask_logits.device)[:, None, None, None]
    return torch.where(winner == object_index, mask_logits, mask_logits.clamp(max=-10.0))
