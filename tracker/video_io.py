"""H.264 encoding of overlay videos (via imageio-ffmpeg)."""

from pathlib import Path
from typing import Iterable

import imageio_ffmpeg
import numpy as np

# Browsers play H.264 in yuv420p, which needs even sizes: odd sizes get one padding pixel.
_EVEN_PAD = ["-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2"]


def _writer(path: Path, width: int, height: int, fps: float):
    params = ["-preset", "veryfast", "-movflags", "+faststart", *_EVEN_PAD]
    writer = imageio_ffmpeg.write_frames(
        str(path), (width, height), fps=fps, codec="libx264", macro_block_size=1, quality=None,
        output_params=params + ["-crf", "23"],
    )
    writer.send(None)
    return writer


def write_mp4(path: Path, frames: Iterable[np.ndarray], fps: float) -> Path:
    """Encode RGB uint8 frames (all of one size) as an H.264 mp4 at ``fps``."""
    writer = None
    try:
        for frame in frames:
            if writer is None:
                writer = _writer(path, frame.shape[1], frame.shape[0], fps)
            writer.send(np.ascontiguousarray(frame))
    finally:
        if writer is not None:
            writer.close()
    if writer is None:
        raise ValueError("no frames to encode")
    return path
