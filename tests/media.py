"""Odd and broken media files for the app's bad-input tests, made with ffmpeg at run time."""

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Tuple, Union

import imageio_ffmpeg

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()


def ffmpeg(*args: str) -> None:
    subprocess.run([FFMPEG, "-hide_banner", "-nostdin", "-v", "error", "-y", *args], check=True, capture_output=True)


def pattern_video(path: Path, size: str = "160x120", frames: int = 10, rate: int = 10, *options: str) -> Path:
    """A moving test pattern as H.264 (options go before the output name)."""
    ffmpeg("-f", "lavfi", "-i", f"testsrc=size={size}:rate={rate}", "-frames:v", str(frames), "-c:v", "libx264",
           "-preset", "ultrafast", *(options or ("-pix_fmt", "yuv420p")), str(path))
    return path


def _text(path: Path) -> Path:
    path.write_text("this is a text file, not a video\n" * 20)
    return path


def _empty(path: Path) -> Path:
    path.touch()
    return path


def _truncated(path: Path) -> Path:
    """An mp4 cut in the middle, with its index at the end: nothing can be read."""
    whole = pattern_video(path.with_name("whole.mp4"), frames=30).read_bytes()
    path.write_bytes(whole[: len(whole) // 2])
    return path


def _truncated_index_first(path: Path) -> Path:
    """An mp4 cut in the middle, with its index first: the frames before the cut can be read."""
    whole = pattern_video(path.with_name("whole.mp4"), "160x120", 30, 10, "-pix_fmt", "yuv420p",
                          "-movflags", "+faststart").read_bytes()
    path.write_bytes(whole[: len(whole) * 6 // 10])
    return path


def _sound_only(path: Path) -> Path:
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-c:a", "aac", str(path))
    return path


def _no_frames(path: Path) -> Path:
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48:rate=10", "-frames:v", "0", str(path))
    return path


def _av1(path: Path) -> Path:
    """AV1 as YouTube downloads and Android phones make it (OpenCV's FFmpeg could not read it)."""
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-frames:v", "10", "-c:v", "libsvtav1",
           "-preset", "12", "-pix_fmt", "yuv420p", str(path))
    return path


def _corrupt_av1(path: Path) -> Path:
    """An AV1 mp4 whose coded frames are noise after the sequence header."""
    data = bytearray(_av1(path.with_name("whole.mp4")).read_bytes())
    start = data.find(b"mdat") + 4 + 64
    end = data.find(b"moov") if data.find(b"moov") > start else len(data)
    data[start:end] = bytes((index * 131 + 7) % 256 for index in range(end - start))
    path.write_bytes(bytes(data))
    return path


def _hdr_pq(path: Path) -> Path:
    """10-bit HEVC in BT.2020 with the PQ transfer, tagged as HDR cameras tag it."""
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-frames:v", "10",
           "-vf", "format=gbrp,zscale=tin=bt709:pin=bt709:t=smpte2084:p=bt2020:m=bt2020nc:r=tv:npl=203,"
                  "format=yuv420p10le",
           "-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error",
           "-color_primaries", "bt2020", "-color_trc", "smpte2084", "-colorspace", "bt2020nc", str(path))
    return path


def _one_frame(path: Path) -> Path:
    return pattern_video(path, "64x48", 1)


def _huge(path: Path) -> Path:
    return pattern_video(path, "7680x4320", 2)


def _long(path: Path) -> Path:
    return pattern_video(path, "96x64", 40)


def _variable_rate(path: Path) -> Path:
    """12 frames 100 ms apart, then 12 frames 33 ms apart."""
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x120:rate=30", "-frames:v", "24",
           "-vf", "setpts='if(lt(N,12),N*3,36+(N-12))/(30*TB)'", "-fps_mode", "vfr", "-c:v", "libx264",
           "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path))
    return path


def _rotated(path: Path) -> Path:
    """Coded 160x120 with a display matrix turning it upright as 120x160."""
    plain = pattern_video(path.with_name("plain.mp4"), "160x120")
    ffmpeg("-display_rotation", "90", "-i", str(plain), "-c", "copy", str(path))
    return path


def _odd_size(path: Path) -> Path:
    return pattern_video(path, "33x17", 10, 10, "-pix_fmt", "yuv444p")


def _gray(path: Path) -> Path:
    return pattern_video(path, "160x120", 10, 10, "-pix_fmt", "gray")


def _alpha_webm(path: Path) -> Path:
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-frames:v", "10", "-vf", "format=yuva420p",
           "-c:v", "libvpx-vp9", "-deadline", "realtime", str(path))
    return path


def _alpha_mov(path: Path) -> Path:
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-frames:v", "10", "-c:v", "png", "-pix_fmt", "rgba",
           str(path))
    return path


@dataclass(frozen=True)
class MediaCase:
    """A file to upload and what the app must do with it: refuse it with ``error``, or open it
    as ``size`` (width, height) with ``frames`` frames (a number or a range), telling the user
    ``notice`` (a pattern; ``{frames}`` stands for the number of frames opened)."""

    name: str
    filename: str
    make: Callable[[Path], Path]
    error: Optional[str] = None
    size: Optional[Tuple[int, int]] = None
    frames: Union[int, range, None] = None
    notice: Optional[str] = None

    def opened_as(self, width: int, height: int, frames: int) -> bool:
        allowed = self.frames if isinstance(self.frames, range) else [self.frames]
        return (width, height) == self.size and frames in allowed

    def notice_pattern(self, frames: int) -> Optional[str]:
        return self.notice.replace("{frames}", str(frames)) if self.notice else None

    def build(self, folder: Path) -> Path:
        work = folder / self.name
        work.mkdir(parents=True, exist_ok=True)
        return self.make(work / self.filename)


#: The frame limit the cases expect (the long video has 40 frames).
MAX_FRAMES = 25

CASES = [
    MediaCase("text renamed .mp4", "notes.mp4", _text, error="not a video that can be read"),
    MediaCase("empty file", "empty.mp4", _empty, error="The file is empty"),
    MediaCase("truncated mp4", "cut.mp4", _truncated, error="not a video that can be read"),
    MediaCase("sound only", "song.mp4", _sound_only, error="sound but no picture"),
    MediaCase("sound only, audio extension", "song.m4a", _sound_only, 
              # the handler's words, or the page's upload check (gr.File's file types) before it
              error="'.m4a' files are not supported|Invalid file type.*'.mp4'"),
    MediaCase("no frames", "nothing.mp4", _no_frames, error="has no frames"),
    MediaCase("truncated mp4, index first", "cut_early.mp4", _truncated_index_first, size=(160, 120),
              frames=range(1, 30), notice="Only {frames} of the 30 frames could be read: the file seems cut short"),
    MediaCase("one frame (zero duration)", "still.mp4", _one_frame, size=(64, 48), frames=1),
    MediaCase("AV1", "av1.mp4", _av1, size=(160, 120), frames=10),
    MediaCase("corrupt AV1", "broken_av1.mp4", _corrupt_av1, error="No frame of this video could be decoded"),
    MediaCase("HDR PQ, 10-bit HEVC", "hdr.mp4", _hdr_pq, size=(160, 120), frames=10,
              notice="This HDR \\(PQ\\) video is shown converted to SDR"),
    MediaCase("8K", "huge.mp4", _huge, size=(1920, 1080), frames=2,
              notice="7680 pixels on its long side.*tracked and exported at 1920x1080"),
    MediaCase("too long", "long.mp4", _long, size=(96, 64), frames=MAX_FRAMES + 15,
              notice=f"has {MAX_FRAMES + 15} frames; this app tracks at most {MAX_FRAMES} at once: choose the window"),
    MediaCase("variable frame rate", "vfr.mp4", _variable_rate, size=(160, 120), frames=24,
              notice="variable frame rate"),
    MediaCase("rotation metadata", "rotated.mp4", _rotated, size=(120, 160), frames=10),
    MediaCase("odd size", "odd.mp4", _odd_size, size=(33, 17), frames=10),
    MediaCase("grayscale", "gray.mp4", _gray, size=(160, 120), frames=10),
    MediaCase("alpha channel, webm", "alpha.webm", _alpha_webm, size=(160, 120), frames=10),
    MediaCase("alpha channel, mov", "alpha.mov", _alpha_mov, size=(160, 120), frames=10),
]
ERRORS = [case for case in CASES if case.error]
