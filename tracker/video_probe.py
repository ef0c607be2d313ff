"""What a media file contains, read by ffmpeg in a subprocess (nothing is decoded in the app)."""

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import imageio_ffmpeg

NOT_A_VIDEO = "This file is not a video that can be read: it may be damaged, cut short, or not a video at all."
SOUND_ONLY = "This file has sound but no picture: choose a video."
NO_FRAMES = "This video has no frames."

_STREAM = re.compile(r"^\s*Stream #\d+:\d+.*?: (Video|Audio|Subtitle|Data|Attachment): (.*)$", re.MULTILINE)
# "160x120" but not the "0x31637661" of a codec tag.
_SIZE = re.compile(r"(?<![\w/])(\d{1,5})x(\d{1,5})(?=[\s,\[])")


class BadVideo(ValueError):
    """The file cannot be used as a video; the message says why, in the user's terms."""


@dataclass(frozen=True)
class VideoProbe:
    """The first video stream: coded size (before any rotation), average and base frame rate."""

    width: int
    height: int
    fps: Optional[float]
    base_rate: Optional[float]

    @property
    def variable_frame_rate(self) -> bool:
        """ffmpeg reports a base rate (tbr) unlike the average rate when frames are unevenly spaced."""
        return bool(self.fps and self.base_rate and abs(self.fps - self.base_rate) > 0.01 * self.base_rate)


def _rate(description: str, unit: str) -> Optional[float]:
    found = re.search(rf"(\d+(?:\.\d+)?)(k?) {unit}\b", description)
    if not found:
        return None
    return float(found.group(1)) * (1000 if found.group(2) else 1)


def probe_video(path: Path, timeout: float = 60.0) -> VideoProbe:
    """Describe the video in ``path`` or raise :class:`BadVideo` (unreadable, sound only, no frames)."""
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)]
    try:
        report = subprocess.run(command, capture_output=True, timeout=timeout).stderr.decode("utf-8", "replace")
    except subprocess.TimeoutExpired as error:
        raise BadVideo(NOT_A_VIDEO) from error
    streams = _STREAM.findall(report)
    videos = [text for kind, text in streams if kind == "Video" and "(attached pic)" not in text]
    if not videos:
        if any(kind == "Audio" for kind, _ in streams):
            raise BadVideo(SOUND_ONLY)
        raise BadVideo(NO_FRAMES if "Input #0" in report else NOT_A_VIDEO)
    size = _SIZE.search(videos[0])
    if size is None or 0 in (int(size.group(1)), int(size.group(2))):
        raise BadVideo(NOT_A_VIDEO)
    return VideoProbe(int(size.group(1)), int(size.group(2)), _rate(videos[0], "fps"), _rate(videos[0], "tbr"))
