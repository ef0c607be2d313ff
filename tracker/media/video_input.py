"""Turns an upload into the session's video: checked, copied into the session, and within the limits.

The upload's own name is only shown (after cleaning); files are written under names chosen here.
Videos larger than the size limit are scaled down by ffmpeg in a subprocess, so the app never
holds a decoder of a huge video. Long videos open whole (frames are decoded on demand); the
user tracks a window of them. What the user should know is reported as a notice.
"""

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import List

import imageio_ffmpeg

from sam2.frames.source import VIDEO_EXTENSIONS, FrameSource
from sam2.frames.video_file import VideoFileSource
from sam2.runtime.memory_policy import DEFAULT_MEMORY_POLICY, MemoryPolicy

from ..settings import Limits
from .video_probe import NOT_A_VIDEO, UNDECODABLE, BadVideo, probe_video

_UNSAFE = re.compile(r"[^\w.\- ]+")
_SCALE_TIMEOUT_SECONDS = 900


@dataclass
class PreparedVideo:
    """The frames to track and what the user should be told about them."""

    frames: FrameSource
    notices: List[str] = field(default_factory=list)
    has_sound: bool = False


def display_name(upload_name: str) -> str:
    """The upload's file name reduced to letters, digits, spaces, dots and dashes (never a path)."""
    name = Path(upload_name.replace("\\", "/")).name
    stem, suffix = os.path.splitext(name)
    stem = _UNSAFE.sub("_", stem).strip(" ._")[:80] or "video"
    return stem + _UNSAFE.sub("", suffix.lower())


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _scale_down(source: Path, target: Path, max_side: int) -> Path:
    """Re-encode the video to fit ``max_side`` (upright, every frame and its timestamp kept)."""
    command = [
        imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-y", "-i", str(source),
        "-map", "0:v:0", "-an", "-sn", "-fps_mode", "passthrough",
        "-vf", f"scale={max_side}:{max_side}:force_original_aspect_ratio=decrease:force_divisible_by=2",
        "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p", str(target),
    ]
    try:
        subprocess.run(command, capture_output=True, timeout=_SCALE_TIMEOUT_SECONDS, check=True)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
        raise BadVideo(UNDECODABLE) from error
    return target


def _open(path: Path, policy: MemoryPolicy) -> VideoFileSource:
    try:
        return VideoFileSource(
            path, cache_size=policy.model_input_cache_frames, decoded_cache_bytes=policy.decoded_cache_bytes
        )
    except (ValueError, RuntimeError) as error:
        raise BadVideo(UNDECODABLE) from error


def prepare_video(
    upload: Path, work_dir: Path, limits: Limits, policy: MemoryPolicy = DEFAULT_MEMORY_POLICY
) -> PreparedVideo:
    """Check ``upload``, take it into ``work_dir`` and open it within ``limits``, its frame
    caches sized by ``policy`` (the engine's, so the session's limits hold for its frames too).

    Raises :class:`BadVideo` with a message for the user when it cannot be used.
    """
    suffix = upload.suffix.lower()
    if suffix not in VIDEO_EXTENSIONS:
        shown = f"'{suffix}' files are" if suffix else "Files without an extension are"
        raise BadVideo(f"{shown} not supported: choose a video ({', '.join(VIDEO_EXTENSIONS)}).")
    try:
        empty = upload.stat().st_size == 0
    except OSError as error:
        raise BadVideo(NOT_A_VIDEO) from error
    if empty:
        raise BadVideo("The file is empty.")
    path = work_dir / f"source{suffix}"
    _link_or_copy(upload, path)
    probe = probe_video(path)
    long_side = max(probe.width, probe.height)
    if long_side > limits.max_side:
        path = _scale_down(path, work_dir / "scaled.mp4", limits.max_side)
    frames = _open(path, policy)
    notices = []
    if long_side > limits.max_side:
        notices.append(f"The video is {long_side} pixels on its long side, more than this app's limit of "
                       f"{limits.max_side}: it is tracked and exported at {frames.video_width}x{frames.video_height}.")
    if frames.num_frames < frames.container_frame_count - 1:
        notices.append(f"Only {frames.num_frames} of the {frames.container_frame_count} frames could be read: "
                       "the file seems cut short.")
    if frames.num_frames > limits.max_frames:
        notices.append(f"The video has {frames.num_frames} frames; this app tracks at most {limits.max_frames} "
                       "at once: choose the window to work on under the viewer (it starts at the beginning).")
    if frames.hdr_transfer:
        notices.append(f"This HDR ({frames.hdr_transfer}) video is shown converted to SDR.")
    if probe.variable_frame_rate and frames.fps:
        notices.append(f"The video has a variable frame rate: the overlay video plays at a steady {frames.fps:.2f} fps.")
    return PreparedVideo(frames, notices, probe.has_audio)
