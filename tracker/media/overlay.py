"""Draws masks, clicks and boxes over a video frame."""

from typing import Dict, Iterable, Optional, Sequence, Tuple

import cv2
import numpy as np

from ..model.prompts import Click
from .palette import FOUND_BOX, NEGATIVE_POINT, POSITIVE_POINT, object_color

MASK_OPACITY = 0.5
LEGEND_OPACITY = 0.6
FONT = cv2.FONT_HERSHEY_SIMPLEX


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


def draw_found(frame: np.ndarray, found: Sequence[Tuple[str, Tuple[float, float, float, float]]]) -> np.ndarray:
    """A copy of the frame with each found (label, box): a yellow box, its label above it."""
    out = frame.copy()
    height, width = frame.shape[:2]
    scale = max(0.35, min(height, width) / 1000)
    thickness = max(1, _marker_radius(frame) // 2)
    for label, box in found:
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        cv2.rectangle(out, (x0, y0), (x1, y1), FOUND_BOX, thickness)
        (text_width, text_height), baseline = cv2.getTextSize(label, FONT, scale, 1)
        top = max(0, y0 - text_height - baseline - 2)
        cv2.rectangle(out, (x0, top), (min(width - 1, x0 + text_width + 4), top + text_height + baseline + 2), FOUND_BOX, -1)
        cv2.putText(out, label, (x0 + 2, top + text_height + 1), FONT, scale, (0, 0, 0), 1, cv2.LINE_AA)
    return out


def fit_text(text: str, max_width: int, scale: float, thickness: int = 1) -> str:
    """``text``, cut and ended with ".." when needed so that it draws within ``max_width`` px in ``FONT``."""
    def width(candidate: str) -> int:
        return cv2.getTextSize(candidate, FONT, scale, thickness)[0][0]

    if width(text) <= max_width:
        return text
    while text and width(text + "..") > max_width:
        text = text[:-1]
    return text + ".."


def draw_legend(frame: np.ndarray, entries: Sequence[Tuple[int, str]]) -> np.ndarray:
    """A copy of the (H, W, 3) frame with a top-left box listing (obj_id, name) entries: colour swatch, white name."""
    out = frame.copy()
    if not entries:
        return out
    height, width = frame.shape[:2]
    scale = max(0.4, min(height, width) / 900)
    thickness = max(1, round(scale * 1.5))
    (_, text_height), baseline = cv2.getTextSize("Ag", FONT, scale, thickness)
    pad = max(2, text_height // 3)
    line_height = text_height + baseline + pad
    names = [fit_text(name, width - 5 * pad - text_height, scale, thickness) for _, name in entries]
    text_width = max(cv2.getTextSize(name, FONT, scale, thickness)[0][0] for name in names)
    x1 = min(width, 3 * pad + text_height + text_width + pad)
    y1 = min(height, 2 * pad + len(entries) * line_height)
    box = out[pad:y1, pad:x1]
    box[:] = (box * (1 - LEGEND_OPACITY)).astype(np.uint8)
    for row, ((obj_id, _), name) in enumerate(zip(entries, names)):
        top = 2 * pad + row * line_height
        cv2.rectangle(out, (2 * pad, top), (2 * pad + text_height - 1, top + text_height - 1), object_color(obj_id), -1)
        cv2.putText(out, name, (3 * pad + text_height, top + text_height), FONT, scale, (255, 255, 255), thickness,
                    cv2.LINE_AA)
    return out
