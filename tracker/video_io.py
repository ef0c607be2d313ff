"""H.264 encoding: whole overlay videos and short streaming chunks (via imageio-ffmpeg)."""

import time
from fractions import Fraction
from pathlib import Path
from typing import Iterable, List, Optional

import imageio_ffmpeg
import numpy as np

# Browsers play H.264 in yuv420p, which needs even sizes: odd sizes get one padding pixel.
_EVEN_PAD = ["-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2"]


def _writer(path: Path, width: int, height: int, fps: float, container: Optional[str] = None):
    params = ["-preset", "veryfast", "-movflags", "+faststart", *_EVEN_PAD]
    if container:
        params += ["-f", container]
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


class ChunkStreamer:
    """Groups overlay frames into short H.264 MPEG-TS chunks for a streaming video player.

    A chunk is cut when ``target_seconds`` of wall time have passed since the last one, so a
    slow tracker sends single frames and a fast one sends several. Each chunk plays for about
    the wall time it took to make (at most at the video's own frame rate), so playback keeps
    pace with tracking.
    """

    def __init__(self, folder: Path, video_fps: float, target_seconds: float = 1.0, max_frames: int = 30) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.video_fps = video_fps
        self.target_seconds = target_seconds
        self.max_frames = max_frames
        self._frames: List[np.ndarray] = []
        self._started = time.monotonic()
        self._count = 0

    def add(self, frame: np.ndarray) -> Optional[Path]:
        """Queue a frame; returns a finished chunk's path when one is due."""
        self._frames.append(frame)
        elapsed = time.monotonic() - self._started
        if elapsed >= self.target_seconds or len(self._frames) >= self.max_frames:
            return self.flush()
        return None

    def flush(self) -> Optional[Path]:
        """Encode the queued frames now (None when there are none)."""
        if not self._frames:
            return None
        elapsed = max(time.monotonic() - self._started, 1e-3)
        fps = min(self.video_fps, max(len(self._frames) / elapsed, 0.5))
        fps = float(Fraction(fps).limit_denominator(1000))
        path = self.folder / f"chunk_{self._count:05d}.ts"
        frames, self._frames = self._frames, []
        writer = _writer(path, frames[0].shape[1], frames[0].shape[0], fps, container="mpegts")
        try:
            for frame in frames:
                writer.send(np.ascontiguousarray(frame))
        finally:
            writer.close()
        self._count += 1
        self._started = time.monotonic()
        return path
