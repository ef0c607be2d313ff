"""What a media file contains, from PyAV's structured stream info and its first decoded frame."""

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import av

NOT_A_VIDEO = "This file is not a video that can be read: it may be damaged, cut short, or not a video at all."
SOUND_ONLY = "This file has sound but no picture: choose a video."
NO_FRAMES = "This video has no frames."
UNDECODABLE = "No frame of this video could be decoded: the file may be damaged or use an unsupported codec."
# FFmpeg's names of the colour tags (ITU-T H.273 code points) the app cares about.
_TRANSFERS = {1: "bt709", 6: "smpte170m", 8: "linear", 13: "iec61966-2-1", 14: "bt2020-10", 15: "bt2020-12",
              16: "smpte2084", 18: "arib-std-b67"}
_PRIMARIES = {1: "bt709", 5: "bt470bg", 6: "smpte170m", 9: "bt2020", 11: "smpte431", 12: "smpte432"}
_MATRICES = {0: "gbr", 1: "bt709", 5: "bt470bg", 6: "smpte170m", 9: "bt2020nc", 10: "bt2020c"}


class BadVideo(ValueError):
    """The file cannot be used as a video; the message says why, in the user's terms."""


@dataclass(frozen=True)
class VideoProbe:
    """The first video stream: coded size (before any rotation), average and base frame rate,
    codec, pixel format and bit depth, colour tags (FFmpeg's names, "unknown" when untagged),
    display rotation (degrees counter-clockwise), whether there is sound, duration in seconds."""

    width: int
    height: int
    fps: Optional[float]
    base_rate: Optional[float]
    codec: str = "unknown"
    pixel_format: str = "unknown"
    bit_depth: int = 8
    color_transfer: str = "unknown"
    color_primaries: str = "unknown"
    color_matrix: str = "unknown"
    rotation: int = 0
    has_audio: bool = False
    duration: Optional[float] = None

    @property
    def variable_frame_rate(self) -> bool:
        """The base rate (r_frame_rate) differs from the average rate when frames are unevenly spaced."""
        return bool(self.fps and self.base_rate and abs(self.fps - self.base_rate) > 0.01 * self.base_rate)

    @property
    def hdr(self) -> Optional[str]:
        """"PQ" or "HLG" when the stream is tagged as HDR, else None."""
        return {"smpte2084": "PQ", "arib-std-b67": "HLG"}.get(self.color_transfer)


def _rate(value: object) -> Optional[float]:
    rate = float(value) if value else 0.0
    return rate if 0 < rate <= 1000 else None


def _tag(names: dict, value: object) -> str:
    return names.get(int(value or 0), "unknown")


def _first_frame(container: "av.container.InputContainer", stream: "av.video.stream.VideoStream") -> "av.VideoFrame":
    try:
        return next(container.decode(stream))
    except StopIteration as error:
        raise BadVideo(NO_FRAMES) from error
    except av.FFmpegError as error:
        raise BadVideo(UNDECODABLE) from error


def _describe(container: "av.container.InputContainer", stream: "av.video.stream.VideoStream") -> VideoProbe:
    context = stream.codec_context
    depth = max((c.bits for c in context.format.components), default=8) if context.format else 8
    duration = float(container.duration) / av.time_base if container.duration else None
    has_audio = bool(container.streams.audio)
    frame = _first_frame(container, stream)
    return VideoProbe(
        context.width, context.height, _rate(stream.average_rate), _rate(stream.base_rate),
        codec=context.codec.canonical_name, pixel_format=context.pix_fmt or "unknown", bit_depth=int(depth),
        color_transfer=_tag(_TRANSFERS, frame.color_trc), color_primaries=_tag(_PRIMARIES, frame.color_primaries),
        color_matrix=_tag(_MATRICES, frame.colorspace), rotation=int(frame.rotation) % 360,
        has_audio=has_audio, duration=duration,
    )


def probe_video(path: Path, timeout: float = 60.0) -> VideoProbe:
    """Describe the video in ``path`` or raise :class:`BadVideo` (unreadable, sound only, no frames,
    first frame undecodable). Decodes one frame (a huge video is still read only by ffmpeg later)."""
    try:
        container = av.open(str(path), timeout=timeout, metadata_errors="ignore")
    except (av.FFmpegError, UnicodeDecodeError, OSError) as error:
        raise BadVideo(NOT_A_VIDEO) from error
    with container:
        videos = [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
        if videos and 0 in (videos[0].codec_context.width, videos[0].codec_context.height):
            raise BadVideo(NOT_A_VIDEO)
        if not videos:
            raise BadVideo(SOUND_ONLY if container.streams.audio else NO_FRAMES)
        return _describe(container, videos[0])
