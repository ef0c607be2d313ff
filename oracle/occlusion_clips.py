"""Short clips where a tracker's policy matters, made from the still images in ``../shared/data``.

A textured disc cut from one photo moves over another photo used as the background:

* ``exit_reenter``: the disc crosses to the right edge, leaves the frame for a few frames and
  comes back;
* ``crossing``: two discs of the same texture (look-alikes) move towards each other, cross and
  part; the tracked one starts on the left.

Frames are written as JPEGs (00000.jpg, ...) so every implementation decodes the same pixels.
The first frame's box of the tracked disc is the prompt (:func:`first_box`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import List, Tuple

import cv2
import numpy as np

WIDTH, HEIGHT = 320, 240
RADIUS = 30
JPEG_QUALITY = 90
BACKGROUND_IMAGE = "truck.jpg"
TEXTURE_IMAGE = "groceries.jpg"


@dataclass(frozen=True)
class ClipPlan:
    """Where each disc's centre is on each frame (None: outside the picture)."""

    name: str
    centres: List[List[Tuple[float, float]]]  # [frame][disc] -> (x, y)

    @property
    def num_frames(self) -> int:
        return len(self.centres)


def _exit_reenter(num_frames: int) -> ClipPlan:
    # Right at 22 px a frame until well past the edge, a pause outside, then back left.
    out_at, back_at = num_frames * 2 // 5, num_frames * 3 // 5
    centres = []
    for t in range(num_frames):
        if t <= out_at:
            x = 70 + 22 * t
        elif t < back_at:
            x = WIDTH + 3 * RADIUS
        else:
            x = WIDTH + RADIUS - 18 * (t - back_at)
        centres.append([(float(x), 120.0 + 2.0 * np.sin(t / 3))])
    return ClipPlan("exit_reenter", centres)


def _crossing(num_frames: int) -> ClipPlan:
    centres = []
    for t in range(num_frames):
        step = 220 * t / (num_frames - 1)
        centres.append([(50.0 + step, 110.0 + 0.5 * t), (270.0 - step, 130.0 - 0.5 * t)])
    return ClipPlan("crossing", centres)


PLANS = {"exit_reenter": _exit_reenter, "crossing": _crossing}


def _background(shared_data: Path) -> np.ndarray:
    image = cv2.imread(str(shared_data / BACKGROUND_IMAGE), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(f"cannot read {shared_data / BACKGROUND_IMAGE}")
    return cv2.resize(image, (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA)


def _texture(shared_data: Path) -> np.ndarray:
    """A (2R, 2R, 3) patch from the middle of the texture photo."""
    image = cv2.imread(str(shared_data / TEXTURE_IMAGE), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(f"cannot read {shared_data / TEXTURE_IMAGE}")
    image = cv2.resize(image, (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA)
    top, left = HEIGHT // 2 - RADIUS, WIDTH // 2 - RADIUS
    return image[top : top + 2 * RADIUS, left : left + 2 * RADIUS]


def _paste_disc(frame: np.ndarray, texture: np.ndarray, centre: Tuple[float, float]) -> None:
    ys, xs = np.mgrid[0 : 2 * RADIUS, 0 : 2 * RADIUS]
    inside = (xs - RADIUS + 0.5) ** 2 + (ys - RADIUS + 0.5) ** 2 <= RADIUS**2
    left, top = int(round(centre[0])) - RADIUS, int(round(centre[1])) - RADIUS
    for y, x in zip(*np.nonzero(inside)):
        fy, fx = top + y, left + x
        if 0 <= fy < HEIGHT and 0 <= fx < WIDTH:
            frame[fy, fx] = texture[y, x]


def first_box(name: str, num_frames: int) -> List[float]:
    """(x0, y0, x1, y1) of the tracked disc on frame 0, in video pixels."""
    x, y = PLANS[name](num_frames).centres[0][0]
    return [x - RADIUS, y - RADIUS, x + RADIUS, y + RADIUS]


def make_clip(name: str, folder: Path | str, shared_data: Path | str, num_frames: int = 30) -> Path:
    """Write clip ``name`` as ``num_frames`` JPEGs into ``folder``."""
    plan = PLANS[name](num_frames)
    folder, shared_data = Path(folder), Path(shared_data)
    folder.mkdir(parents=True, exist_ok=True)
    background, texture = _background(shared_data), _texture(shared_data)
    for index, centres in enumerate(plan.centres):
        frame = background.copy()
        for centre in centres:
            _paste_disc(frame, texture, centre)
        cv2.imwrite(str(folder / f"{index:05d}.jpg"), frame, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    return folder
