"""Video exports of tracked objects over source frames, at the source's fps and size.

- cut-out: the object on transparency, WebM VP9 with alpha (Chrome, Firefox, editors that read
  WebM alpha) or a zip of RGBA PNGs (every compositing tool; lossless);
- matte: white object on black, H.264 mp4 (for an editor's luma matte / track matte);
- background effect: outside all objects blurred or erased, H.264 mp4 (optionally with sound).

Pass ``mask_of = lambda i: union_mask(masks_on(i))`` for a cut-out or matte of all objects.
"""

import io
import zipfile
from pathlib import Path
from typing import Callable, Dict, Iterable, Iterator, Optional, Tuple

import cv2
import numpy as np
from PIL import Image

from .video_io import EVEN_PAD, MP4, AudioClip, Encoding, encode, write_mp4

RgbReader = Callable[[int], np.ndarray]  # frame index -> (H, W, 3) uint8
MaskReader = Callable[[int], Optional[np.ndarray]]  # frame index -> (H, W) bool, None: not on the frame
MasksReader = Callable[[int], Dict[int, np.ndarray]]  # frame index -> {object id: (H, W) bool}

# Colour under the transparency is black: players without VP9 alpha (Safari) show the object on black.
VP9_ALPHA = Encoding("libvpx-vp9", "rgba", "yuva420p",
                     ("-crf", "28", "-b:v", "0", "-deadline", "good", "-cpu-used", "5", "-row-mt", "1"))
# Flat black and white compress to almost nothing even at this near-lossless quality.
H264_MATTE = Encoding("libx264", "gray", "yuv420p", ("-preset", "veryfast", "-crf", "10", *MP4, *EVEN_PAD))
EFFECTS = ("blur", "erase")
ERASED_RGB = (128, 128, 128)


def union_mask(masks: Dict[int, np.ndarray]) -> Optional[np.ndarray]:
    """(H, W) bool: pixels of any of ``masks`` (None when there are none)."""
    return np.logical_or.reduce(list(masks.values())) if masks else None


def cutout_rgba(frame: np.ndarray, mask: Optional[np.ndarray]) -> np.ndarray:
    """(H, W, 4) uint8: the frame's pixels under ``mask`` ((H, W) bool) opaque, others transparent black."""
    inside = np.zeros(frame.shape[:2], dtype=bool) if mask is None else mask
    return np.dstack([frame * inside[..., None], inside.astype(np.uint8) * 255])


def _cutouts(frames: Iterable[int], read_rgb: RgbReader, mask_of: MaskReader) -> Iterator[Tuple[int, np.ndarray]]:
    for frame_idx in frames:
        yield frame_idx, cutout_rgba(read_rgb(frame_idx), mask_of(frame_idx))


def write_cutout(path: Path, frames: Iterable[int], read_rgb: RgbReader, mask_of: MaskReader, fps: float) -> Path:
    """The object on transparency: WebM, VP9 with alpha (yuva420p; any size)."""
    return encode(path, (rgba for _, rgba in _cutouts(frames, read_rgb, mask_of)), fps, VP9_ALPHA)


def write_cutout_pngs(path: Path, frames: Iterable[int], read_rgb: RgbReader, mask_of: MaskReader) -> Path:
    """The object on transparency: a zip of ``<frame:05d>.png`` RGBA images (lossless)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for frame_idx, rgba in _cutouts(frames, read_rgb, mask_of):
            buffer = io.BytesIO()
            Image.fromarray(rgba, mode="RGBA").save(buffer, format="PNG")
            archive.writestr(f"{frame_idx:05d}.png", buffer.getvalue())
    return path


def matte(mask: Optional[np.ndarray], size: Tuple[int, int]) -> np.ndarray:
    """(H, W) uint8 of ``size`` (H, W): 255 on ``mask``, 0 elsewhere (all 0 when None)."""
    return np.zeros(size, dtype=np.uint8) if mask is None else mask.astype(np.uint8) * 255


def write_matte(path: Path, frames: Iterable[int], mask_of: MaskReader, size: Tuple[int, int], fps: float) -> Path:
    """White object on black, ``size`` (H, W): H.264 mp4 (yuv420p, crf 10; odd sizes get one black
    padding row / column)."""
    return encode(path, (matte(mask_of(frame_idx), size) for frame_idx in frames), fps, H264_MATTE)


def blur_sigma(size: Tuple[int, int]) -> float:
    """The background blur's Gaussian sigma in pixels for a frame of ``size`` (H, W): 2% of its long side."""
    return max(3.0, 0.02 * max(size))


def blurred_outside(frame: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8: ``frame`` blurred from its pixels outside ``inside`` ((H, W) bool) only, so
    objects leave no halo on the background (a normalised convolution)."""
    sigma = blur_sigma(inside.shape)
    weight = (~inside).astype(np.float32)
    total = cv2.GaussianBlur(frame.astype(np.float32) * weight[..., None], (0, 0), sigma)
    norm = cv2.GaussianBlur(weight, (0, 0), sigma)
    return np.clip(total / np.maximum(norm, 1e-6)[..., None] + 0.5, 0, 255).astype(np.uint8)


def background_effect(frame: np.ndarray, inside: Optional[np.ndarray], effect: str = "blur") -> np.ndarray:
    """(H, W, 3) uint8: ``frame`` with its pixels outside ``inside`` ((H, W) bool; None: no
    object) blurred (``"blur"``) or flat gray (``"erase"``)."""
    if effect not in EFFECTS:
        raise ValueError(f"unknown background effect {effect!r}: choose one of {', '.join(EFFECTS)}")
    inside = np.zeros(frame.shape[:2], dtype=bool) if inside is None else inside
    if effect == "blur":
        outside = blurred_outside(frame, inside)
    else:
        outside = np.broadcast_to(np.array(ERASED_RGB, dtype=np.uint8), frame.shape)
    return np.where(inside[..., None], frame, outside)


def write_background_effect(path: Path, frames: Iterable[int], read_rgb: RgbReader, masks_on: MasksReader,
                            fps: float, effect: str = "blur", audio: Optional[AudioClip] = None) -> Path:
    """The frames with everything outside all objects blurred or erased (``effect``), objects
    untouched: H.264 mp4 like the overlay video, with ``audio``'s sound if given."""
    edited = (background_effect(read_rgb(i), union_mask(masks_on(i)), effect) for i in frames)
    return write_mp4(path, edited, fps, audio)
