"""Video encoding via imageio-ffmpeg's ffmpeg: H.264 overlay videos (optionally carrying a window
of the source's sound) and the encodings other exports choose."""

import logging
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, Sequence, Tuple

import imageio_ffmpeg
import numpy as np

logger = logging.getLogger(__name__)

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()

# Browsers play H.264 in yuv420p, which needs even sizes: odd sizes get one padding pixel.
EVEN_PAD = ("-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2")
MP4 = ("-movflags", "+faststart")


@dataclass(frozen=True)
class Encoding:
    """How frames become a file: the frames' pixel format (``rgb24`` (H, W, 3), ``rgba``
    (H, W, 4), ``gray`` (H, W)), the stored one, the encoder and its ffmpeg output options."""

    codec: str
    pix_fmt_in: str
    pix_fmt_out: str
    params: Tuple[str, ...]


H264 = Encoding("libx264", "rgb24", "yuv420p", ("-preset", "veryfast", "-crf", "23", *MP4, *EVEN_PAD))


@dataclass(frozen=True)
class AudioClip:
    """The sound of the file at ``path`` from ``start_seconds`` on, for ``duration_seconds``."""

    path: Path
    start_seconds: float
    duration_seconds: float

    @classmethod
    def for_frames(cls, path: Path, frame_times: Sequence[float], frames: Sequence[int], fps: float) -> "AudioClip":
        """The sound under the consecutive source ``frames`` (``frame_times``: (num_frames,) seconds
        each source frame starts) when they are written at ``fps``: from the first one's time, as
        long as the written video."""
        return cls(Path(path), float(frame_times[frames[0]]), len(frames) / fps)


def encode(path: Path, frames: Iterable[np.ndarray], fps: float, encoding: Encoding = H264) -> Path:
    """Encode uint8 frames (all of one size, laid out as ``encoding.pix_fmt_in``) at ``fps``."""
    writer = None
    try:
        for frame in frames:
            if writer is None:
                writer = imageio_ffmpeg.write_frames(
                    str(path), (frame.shape[1], frame.shape[0]), pix_fmt_in=encoding.pix_fmt_in,
                    pix_fmt_out=encoding.pix_fmt_out, fps=fps, codec=encoding.codec, macro_block_size=1,
                    quality=None, output_params=list(encoding.params))
                writer.send(None)
            writer.send(np.ascontiguousarray(frame))
    finally:
        if writer is not None:
            writer.close()
    if writer is None:
        raise ValueError("no frames to encode")
    return path


def _mux_audio(video: Path, audio: AudioClip, path: Path) -> None:
    """Copy ``video``'s frames into ``path`` with ``audio`` as AAC (none if the file has no sound)."""
    subprocess.run(
        [FFMPEG, "-hide_banner", "-nostdin", "-v", "error", "-y", "-i", str(video),
         "-ss", f"{audio.start_seconds:.6f}", "-t", f"{audio.duration_seconds:.6f}", "-i", str(audio.path),
         "-map", "0:v:0", "-map", "1:a:0?", "-c:v", "copy", "-c:a", "aac", "-b:a", "160k", *MP4, str(path)],
        check=True, capture_output=True)


def write_mp4(path: Path, frames: Iterable[np.ndarray], fps: float, audio: Optional[AudioClip] = None) -> Path:
    """Encode RGB uint8 frames ((H, W, 3), all of one size) as an H.264 mp4 at ``fps``, with the
    sound of ``audio`` if given (silent if its file has no sound or the sound cannot be read)."""
    if audio is None:
        return encode(path, frames, fps)
    silent = encode(path.with_name(f"{path.stem}.silent{path.suffix}"), frames, fps)
    try:
        _mux_audio(silent, audio, path)
    except subprocess.CalledProcessError as error:
        logger.warning("Writing %s without sound: %s", path.name, error.stderr.decode(errors="replace").strip())
        silent.replace(path)
    finally:
        silent.unlink(missing_ok=True)
    return path
