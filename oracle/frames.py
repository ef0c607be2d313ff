"""Make folders of JPEGs (00000.jpg, 00001.jpg, ...) from video clips or still images.

Both implementations read the same folder, so JPEG decoding is identical on the two sides.
Images are optionally downscaled to keep the recorded logits (stored at full resolution) small.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
from PIL import Image


def extract_frames(
    video: Path | str,
    out_dir: Path | str,
    num_frames: int,
    stride: int = 1,
    max_width: int | None = None,
    start: int = 0,
    quality: int = 95,
) -> Path:
    """Write ``num_frames`` frames (every ``stride``-th from ``start``) as JPEGs into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise FileNotFoundError(f"cannot open video {video}")
    written = 0
    index = 0
    try:
        while written < num_frames:
            ok, frame = cap.read()
            if not ok:
                break
            if index >= start and (index - start) % stride == 0:
                height, width = frame.shape[:2]
                if max_width is not None and width > max_width:
                    new_h = int(round(height * max_width / width))
                    frame = cv2.resize(frame, (max_width, new_h), interpolation=cv2.INTER_AREA)
                cv2.imwrite(str(out_dir / f"{written:05d}.jpg"), frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
                written += 1
            index += 1
    finally:
        cap.release()
    if written < num_frames:
        raise ValueError(f"{video} gave only {written} of {num_frames} requested frames")
    return out_dir


def prepare_stills(images, out_dir: Path | str, max_width: int | None = None, quality: int = 95) -> Path:
    """Re-encode still images as 00000.jpg, 00001.jpg, ... (downscaled to ``max_width``)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for index, path in enumerate(images):
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise FileNotFoundError(f"cannot read image {path}")
        height, width = image.shape[:2]
        if max_width is not None and width > max_width:
            new_h = int(round(height * max_width / width))
            image = cv2.resize(image, (max_width, new_h), interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(out_dir / f"{index:05d}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return out_dir


def pixels_digest(folder: Path | str) -> str:
    """SHA-256 of the RGB pixels of a folder's JPEGs as PIL decodes them (as the predictors do)."""
    hasher = hashlib.sha256()
    for path in sorted(Path(folder).glob("*.jpg")):
        hasher.update(np.ascontiguousarray(Image.open(path).convert("RGB")).tobytes())
    return hasher.hexdigest()
