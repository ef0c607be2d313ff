"""Draws masks, clicks and boxes over a video frame."""

from typing import Dict, Iterable, Optional, Tuple

import cv2
import numpy as np

from .palette import NEGATIVE_POINT, POSITIVE_POINT, object_color
from .prompts import Click

MASK_OPACITY = 0.5


def _marker_radius(frame: np.ndarray) -> int:
    return max(3, round(min(frame.shape[:2]) / 90))


def draw_masks(frame: np.ndarray, masks: Dict[int, np.ndarray]) -> np.ndarray:
    """Blend each object's (H, W) bool mask in its colour and outline it; returns a new frame."""
    out = frame.astype(np.float32)
    for obj_id, mask in masks.items():
        if mask.any():
            color = np.array(object_color(obj_id), dtype=np.float32)
            out[mask] = out[mask] * (1 - MASK_OPACITY) + color * MASK_OPACITY
    out = out.astype(np.uint8)
    thickness = max(1, _marker_radius(frame) // 2)
    for obj_id, mask in masks.items():
        if mask.any():
            contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            cv2.drawContours(out, contours, -1, object_color(obj_id), thickness)
    return out


def draw_prompts(frame: np.ndarray, clicks: Iterable[Click], box: Optional[Tuple[float, float, float, float]] = None,
                 pending_corner: Optional[Tuple[float, float]] = None) -> np.ndarray:
    """Draw clicks (green include, red exclude, white ring), a box and a half-drawn box corner."""
    out = frame.copy()
    radius = _marker_radius(frame)
    if box is not None:
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        cv2.rectangle(out, (x0, y0), (x1, y1), (255, 255, 255), max(1, radius // 2))
    if pending_corner is not None:
        cv2.drawMarker(out, tuple(int(round(v)) for v in pending_corner), (255, 255, 255), cv2.MARKER_CROSS, radius * 3, 2)
    for click in clicks:
        center = (int(round(click.x)), int(round(click.y)))
        cv2.circle(out, center, radius + 2, (255, 255, 255), -1)
        cv2.circle(out, center, radius, POSITIVE_POINT if click.positive else NEGATIVE_POINT, -1)
    return out
