"""The two folder layouts of VOS masks, for ground truth and predictions alike.

DAVIS: ``<root>/<video>/<frame>.png``, one indexed PNG per frame, pixel value = object id.
SA-V:  ``<root>/<video>/<object>/<frame>.png``, one binary PNG per object and frame.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

import numpy as np
from PIL import Image


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
    return [MaskTrack(folder / name, name) for name in entries if (folder / name).is_dir()]


def annotation_root(root: Path) -> Path:
    """``root``, or its ``Annotations`` folder when given a dataset root (DAVIS, SA-V)."""
    root = Path(root)
    inner = root / "Annotations"
    return inner if inner.is_dir() and not any(inner.glob("*.png")) else root


def video_names(root: Path) -> List[str]:
    """The video folders under ``root``, sorted (hidden ones, such as unfinished attempts, left out)."""
    return sorted(name for name in os.listdir(root) if (Path(root) / name).is_dir() and not name.startswith("."))
