"""Mask PNGs of VOS datasets in their two folder layouts, for inputs, outputs and ground truth.

DAVIS layout: ``<root>/<video>/<frame>.png``, one indexed PNG per frame (value = object id).
Per-object layout (SA-V, ``--per_obj_png_file``): ``<root>/<video>/<object id>/<frame>.png``.

``VideoMasks`` reads and writes a video's masks frame by frame (inference, where the layout is
given); ``video_tracks`` finds the layout of a video and reads it track by track (evaluation).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np
from PIL import Image

Masks = Dict[int, np.ndarray]  # object id -> (H, W) bool


def subfolders(folder: Path) -> List[str]:
    """The folders in ``folder``, sorted; hidden ones (such as unfinished attempts) left out."""
    return sorted(name for name in os.listdir(folder) if (Path(folder) / name).is_dir() and not name.startswith("."))


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
        return subfolders(self.folder)

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


@dataclass(frozen=True)
class MaskTrack:
    """The masks of one video (DAVIS) or of one object of it (SA-V): a folder of frame PNGs."""

    folder: Path
    object_name: Optional[str]  # None for a DAVIS video (all objects in one PNG)

    def frames(self) -> List[str]:
        """The PNG file names, sorted."""
        return sorted(name for name in os.listdir(self.folder) if name.endswith(".png"))

    def read(self, frame: str) -> np.ndarray:
        """(H, W) labels (DAVIS) or bool mask (SA-V) of one frame."""
        labels = np.array(Image.open(self.folder / frame))
        if self.object_name is None:
            return labels
        if len(np.unique(labels)) > 2:
            raise ValueError(f"{self.folder / frame} holds more than one object; SA-V masks are binary")
        return labels > 0


def video_tracks(root: Path, video: str) -> List[MaskTrack]:
    """The mask tracks of ``video`` under ``root``: one (DAVIS) or one per object (SA-V)."""
    folder = Path(root) / video
    entries = sorted(os.listdir(folder))
    if all(name.endswith(".png") for name in entries):
        return [MaskTrack(folder, None)]
    return [MaskTrack(folder / name, name) for name in subfolders(folder)]


def annotation_root(root: Path) -> Path:
    """``root``, or its ``Annotations`` folder when given a dataset root (DAVIS, SA-V)."""
    root = Path(root)
    inner = root / "Annotations"
    return inner if inner.is_dir() and not any(inner.glob("*.png")) else root
