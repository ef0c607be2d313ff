"""Mask PNGs of VOS datasets: read input masks and write output masks of one video.

DAVIS layout: ``<root>/<video>/<frame>.png``, one indexed PNG per frame (value = object id).
Per-object layout (SA-V, ``--per_obj_png_file``): ``<root>/<video>/<object id>/<frame>.png``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np
from PIL import Image

Masks = Dict[int, np.ndarray]  # object id -> (H, W) bool


def davis_palette() -> List[int]:
    """The 256-colour palette of DAVIS (and PASCAL VOC) masks: the bits of an index spread
    over the high bits of red, green and blue."""
    palette = []
    for index in range(256):
        red = green = blue = 0
        for bit in range(8):
            red |= ((index >> (3 * bit)) & 1) << (7 - bit)
            green |= ((index >> (3 * bit + 1)) & 1) << (7 - bit)
            blue |= ((index >> (3 * bit + 2)) & 1) << (7 - bit)
        palette += [red, green, blue]
    return palette


@dataclass(frozen=True)
class VideoMasks:
    """The masks of one video under ``root`` in one of the two layouts."""

    root: Path
    video: str
    per_object: bool

    @property
    def folder(self) -> Path:
        return Path(self.root) / self.video

    def object_folders(self) -> List[str]:
        return sorted(name for name in os.listdir(self.folder) if (self.folder / name).is_dir())

    def has_frame(self, frame: str) -> bool:
        if self.per_object:
            return any((self.folder / name / f"{frame}.png").is_file() for name in self.object_folders())
        return (self.folder / f"{frame}.png").is_file()

    def read(self, frame: str) -> Tuple[Masks, Optional[List[int]]]:
        """The objects' masks on ``frame`` (objects without a file there are left out) and
        the palette of the last file read."""
        if not self.per_object:
            path = self.folder / f"{frame}.png"
            if not path.is_file():
                return {}, None
            image = Image.open(path)
            labels = np.array(image).astype(np.uint8)
            return {int(obj): labels == obj for obj in np.unique(labels) if obj > 0}, image.getpalette()
        masks, palette = {}, None
        for name in self.object_folders():
            path = self.folder / name / f"{frame}.png"
            if path.is_file():
                image = Image.open(path)
                masks[int(name)], palette = np.array(image) > 0, image.getpalette()
        return masks, palette

    def write(self, frame: str, masks: Masks, shape: Tuple[int, int], palette: List[int]) -> None:
        """Save ``masks`` of ``frame``: one indexed PNG (lower ids drawn over higher ones where
        they overlap) or one PNG per object."""
        if not self.per_object:
            labels = np.zeros(shape, np.uint8)
            for obj in sorted(masks, reverse=True):
                labels[masks[obj].reshape(shape)] = obj
            self.folder.mkdir(parents=True, exist_ok=True)
            _save_indexed(self.folder / f"{frame}.png", labels, palette)
            return
        for obj, mask in masks.items():
            folder = self.folder / f"{obj:03d}"
            folder.mkdir(parents=True, exist_ok=True)
            _save_indexed(folder / f"{frame}.png", mask.reshape(shape).astype(np.uint8), palette)


def _save_indexed(path: Path, labels: np.ndarray, palette: List[int]) -> None:
    image = Image.fromarray(labels)
    image.putpalette(palette)
    image.save(path)
