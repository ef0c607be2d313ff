"""Open any supported video input as a :class:`FrameSource`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence, Union

import numpy as np

from ..runtime.memory_policy import DEFAULT_MEMORY_POLICY
from .source import FRAME_NAMING, VIDEO_EXTENSIONS, ArraySource, Frame, FrameSource, JpegFolderSource
from .video_file import VideoFileSource

VideoInput = Union[str, os.PathLike, FrameSource, Sequence[Frame], np.ndarray]
_STILL_IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def open_frame_source(
    video_path: VideoInput, *, cache_size: int = DEFAULT_MEMORY_POLICY.model_input_cache_frames,
    decoded_cache_bytes: int = DEFAULT_MEMORY_POLICY.decoded_cache_bytes,
) -> FrameSource:
    """Open ``video_path`` as a :class:`FrameSource`.

    Accepts a folder of JPEG frames, a video file (``VIDEO_EXTENSIONS``), a list of frames,
    an (N, H, W, 3) uint8 array, or an existing ``FrameSource`` (returned as is, its caches
    unchanged). ``decoded_cache_bytes`` bounds the decoded frames a video file keeps.
    """
    if isinstance(video_path, FrameSource):
        return video_path
    if isinstance(video_path, np.ndarray):
        if video_path.ndim == 3:
            raise ValueError(
                "got a single (H, W, 3) image; pass a list of frames or an (N, H, W, 3) array"
            )
        return ArraySource(video_path, cache_size=cache_size)
    if isinstance(video_path, (list, tuple)):
        return ArraySource(video_path, cache_size=cache_size)
    if not isinstance(video_path, (str, os.PathLike)):
        raise TypeError(
            "video_path must be a folder of JPEG frames, a video file path, a list of frames, "
            f"an (N, H, W, 3) uint8 array or a FrameSource; got {type(video_path).__name__}"
        )
    path = os.fspath(video_path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"video path not found: {path!r}")
    if os.path.isdir(path):
        return JpegFolderSource(path, cache_size=cache_size)
    ext = Path(path).suffix.lower()
    if ext in VIDEO_EXTENSIONS:
        return VideoFileSource(path, cache_size=cache_size, decoded_cache_bytes=decoded_cache_bytes)
    if ext in _STILL_IMAGE_EXTENSIONS:
        raise ValueError(
            f"{path!r} is a single image, not a video: use SAM2ImagePredictor, or put the frames "
            f"in a folder as {FRAME_NAMING}"
        )
    raise ValueError(
        f"unsupported video path {path!r}: expected a folder of JPEG frames or a video file "
        f"with one of the extensions {', '.join(VIDEO_EXTENSIONS)}"
    )
