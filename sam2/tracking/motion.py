"""A constant-velocity Kalman filter on an object's box, as SAMURAI uses to score candidate masks.

The state is the box centre (x, y), its aspect ratio a = w / h and height h, and their
velocities; a box is observed directly as (x, y, a, h). Noise scales with the box height.
Boxes are (x0, y0, x1, y1) in pixels; an empty box is (0, 0, 0, 0).
"""

from dataclasses import dataclass
from typing import Sequence, Tuple

import numpy as np
import torch

Box = Tuple[float, float, float, float]
EMPTY_BOX: Box = (0.0, 0.0, 0.0, 0.0)

# Standard deviations relative to the box height: of the position and of the velocity.
POSITION_NOISE = 1.0 / 20
VELOCITY_NOISE = 1.0 / 160
# Fixed standard deviations of the aspect ratio (start and motion) and of its velocity.
ASPECT_NOISE, ASPECT_VELOCITY_NOISE, ASPECT_OBSERVATION_NOISE = 1e-2, 1e-5, 1e-1

_TRANSITION = np.eye(8) + np.eye(8, k=4)  # each of x, y, a, h moves by its velocity per frame
_OBSERVATION = np.eye(4, 8)


def box_of_mask(mask_logits: torch.Tensor) -> Box:
    """The pixel box (x0, y0, x1, y1) around ``mask_logits > 0`` of a (H, W) map (inclusive
    pixel indices), or EMPTY_BOX."""
    inside = mask_logits > 0
    rows = torch.nonzero(inside.any(dim=1)).flatten()
    if rows.numel() == 0:
        return EMPTY_BOX
    cols = torch.nonzero(inside.any(dim=0)).flatten()
    return (float(cols[0]), float(rows[0]), float(cols[-1]), float(rows[-1]))


def _centre_aspect_height(box: Box) -> np.ndarray:
    x0, y0, x1, y1 = box
    height = (y1 - y0) or 1.0
    return np.array([(x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / height, height], dtype=np.float64)


def box_iou(a: Sequence[float], b: Box) -> float:
    """IoU of two (x0, y0, x1, y1) boxes by their corner coordinates; 0 when ``b`` is empty."""
    if tuple(b) == EMPTY_BOX:
        return 0.0
    overlap = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - overlap
    return overlap / union if union != 0 else 0.0


@dataclass
class BoxFilter:
    """The filter's belief: mean (8,) over (x, y, a, h, vx, vy, va, vh) and covariance (8, 8)."""

    mean: np.ndarray
    covariance: np.ndarray

    @classmethod
    def start(cls, box: Box) -> "BoxFilter":
        """A belief centred on ``box`` with zero velocity."""
        observed = _centre_aspect_height(box)
        height = observed[3]
        std = [2 * POSITION_NOISE * height, 2 * POSITION_NOISE * height, ASPECT_NOISE, 2 * POSITION_NOISE * height,
               10 * VELOCITY_NOISE * height, 10 * VELOCITY_NOISE * height, ASPECT_VELOCITY_NOISE,
               10 * VELOCITY_NOISE * height]
        return cls(np.concatenate([observed, np.zeros(4)]), np.diag(np.square(std)))

    def predict(self) -> None:
        """Advance the belief by one frame."""
        height = self.mean[3]
        std = [POSITION_NOISE * height, POSITION_NOISE * height, ASPECT_NOISE, POSITION_NOISE * height,
               VELOCITY_NOISE * height, VELOCITY_NOISE * height, ASPECT_VELOCITY_NOISE, VELOCITY_NOISE * height]
        self.mean = _TRANSITION @ self.mean
        self.covariance = _TRANSITION @ self.covariance @ _TRANSITION.T + np.diag(np.square(std))

    def correct(self, box: Box) -> None:
        """Fold an observed box into the belief."""
        height = self.mean[3]
        noise = np.diag(np.square([POSITION_NOISE * height, POSITION_NOISE * height, ASPECT_OBSERVATION_NOISE,
                                   POSITION_NOISE * height]))
        innovation_cov = _OBSERVATION @ self.covariance @ _OBSERVATION.T + noise
        gain = np.linalg.solve(innovation_cov, _OBSERVATION @ self.covariance).T
        residual = _centre_aspect_height(box) - _OBSERVATION @ self.mean
        self.mean = self.mean + gain @ residual
        self.covariance = self.covariance - gain @ innovation_cov @ gain.T

    def expected_box(self) -> Tuple[float, float, float, float]:
        """The box the belief expects, (x0, y0, x1, y1)."""
        x, y, aspect, height = self.mean[:4]
        half_w, half_h = aspect * height / 2, height / 2
        return (x - half_w, y - half_h, x + half_w, y + half_h)
