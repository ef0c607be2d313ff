"""Compare video decoders for VideoFileSource: speed, seek accuracy and odd files.

    python -m bench.decoders            # clips generated under /tmp, plus ../shared/data clips

Candidates: OpenCV (FFmpeg backend), PyAV (its wheels bundle FFmpeg with dav1d), imageio-ffmpeg's
ffmpeg binary as a subprocess pipe, torchcodec (when it imports). Prints one table: sequential
decode speed (frames/s, RGB out) on 1080p H.264 and 10-bit HEVC, whether random reads equal a
sequential decode, and what each does with odd files (ok / wrong / error / hang).
"""

import subprocess
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional

import cv2
import imageio_ffmpeg
import numpy as np

from oracle.paths import SHARED_DATA

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
SPEED_FRAMES = 60
Reader = Callable[[Path, Optional[int]], Optional[np.ndarray]]  # (path, index or None=count)


def _ffmpeg(*args: str) -> None:
    subprocess.run([FFMPEG, "-hide_banner", "-nostdin", "-v", "error", "-y", *args], check=True, capture_output=True)


def make_clips(folder: Path) -> Dict[str, Path]:
    """The generated test files: 1080p speed clips, a seek clip with B-frames, odd files."""
    src = ["-f", "lavfi", "-i"]
    x265 = ["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error"]
    clips = {name: folder / name for name in ("h264_1080.mp4", "hevc10_1080.mp4", "seek.mp4", "vfr.mp4",
                                               "rotated.mp4", "av1.mp4", "plain.mp4")}
    _ffmpeg(*src, "testsrc2=size=1920x1080:rate=30", "-frames:v", str(SPEED_FRAMES), "-c:v", "libx264",
            "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(clips["h264_1080.mp4"]))
    _ffmpeg(*src, "testsrc2=size=1920x1080:rate=30", "-frames:v", str(SPEED_FRAMES), *x265,
            "-pix_fmt", "yuv420p10le", str(clips["hevc10_1080.mp4"]))
    _ffmpeg(*src, "testsrc2=size=320x240:rate=25", "-frames:v", "90", "-c:v", "libx264", "-g", "12", "-bf", "3",
            "-pix_fmt", "yuv420p", str(clips["seek.mp4"]))
    _ffmpeg(*src, "testsrc2=size=160x120:rate=30", "-frames:v", "24", "-vf",
            "setpts='if(lt(N,12),N*3,36+(N-12))/(30*TB)'", "-fps_mode", "vfr", "-c:v", "libx264",
            "-pix_fmt", "yuv420p", str(clips["vfr.mp4"]))
    _ffmpeg(*src, "testsrc2=size=160x120:rate=10", "-frames:v", "30", "-c:v", "libx264", "-pix_fmt", "yuv420p",
            str(clips["plain.mp4"]))
    _ffmpeg("-display_rotation", "90", "-i", str(clips["plain.mp4"]), "-c", "copy", str(clips["rotated.mp4"]))
    _ffmpeg(*src, "testsrc2=size=160x120:rate=10", "-frames:v", "30", "-c:v", "libsvtav1", "-preset", "12",
            str(clips["av1.mp4"]))
    data = clips["plain.mp4"].read_bytes()
    clips["truncated.mp4"] = folder / "truncated.mp4"
    clips["truncated.mp4"].write_bytes(data[: len(data) // 2])
    clips["corrupt_av1.mp4"] = folder / "corrupt_av1.mp4"
    av1 = bytearray(clips["av1.mp4"].read_bytes())
    start, end = av1.find(b"mdat") + 68, av1.find(b"moov")
    av1[start:end] = np.random.default_rng(0).integers(0, 256, max(end - start, 0), dtype=np.uint8).tobytes()
    clips["corrupt_av1.mp4"].write_bytes(bytes(av1))
    return clips


def opencv_frames(path: Path, index: Optional[int]):
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    try:
        if index is not None:
            cap.set(cv2.CAP_PROP_POS_FRAMES, index)
            ok, bgr = cap.read()
            return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB) if ok else None
        frames = []
        while True:
            ok, bgr = cap.read()
            if not ok:
                return frames
            frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    finally:
        cap.release()


def pyav_frames(path: Path, index: Optional[int]):
    """Plain PyAV: sequential decode, or VideoFileSource's seek-to-keyframe-and-decode."""
    import av

    if index is None:
        with av.open(str(path)) as container:
            container.streams.video[0].thread_type = "AUTO"
            return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    from sam2.frames.video_file import VideoFileSource

    with VideoFileSource(path) as source:
        source.FORWARD_DECODE_LIMIT = 0
        return source.read_rgb(index)


def _probe_size(path: Path) -> tuple:
    """Upright width, height and average rate, for reading the pipe's raw frames."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        width, height, rate = stream.codec_context.width, stream.codec_context.height, stream.average_rate
        turned = next(container.decode(stream)).rotation % 180 == 90
    return (height, width, float(rate or 25)) if turned else (width, height, float(rate or 25))


def pipe_frames(path: Path, index: Optional[int]):
    """ffmpeg binary -> raw RGB on stdout (accurate -ss seek by time)."""
    width, height, rate = _probe_size(path)
    seek = ["-ss", f"{index / rate:.6f}"] if index is not None else []
    count = ["-frames:v", "1"] if index is not None else []
    out = subprocess.run([FFMPEG, "-v", "error", "-nostdin", *seek, "-i", str(path), *count,
                          "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True, timeout=60).stdout
    frames = list(np.frombuffer(out, np.uint8).reshape(-1, height, width, 3))
    return (frames[0] if frames else None) if index is not None else frames


def torchcodec_frames(path: Path, index: Optional[int]):
    from torchcodec.decoders import VideoDecoder

    decoder = VideoDecoder(str(path), seek_mode="exact")
    if index is not None:
        return decoder[index].permute(1, 2, 0).numpy()
    return [decoder[k].permute(1, 2, 0).numpy() for k in range(len(decoder))]


READERS: Dict[str, Reader] = {"opencv": opencv_frames, "pyav": pyav_frames, "ffmpeg-pipe": pipe_frames,
                              "torchcodec": torchcodec_frames}


def _attempt(action: Callable[[], str]) -> str:
    try:
        return action()
    except subprocess.TimeoutExpired:
        return "hang"
    except Exception as error:  # noqa: BLE001 - any failure is a result to report
        return f"error ({type(error).__name__})"


def _speed(reader: Reader, path: Path) -> str:
    start = time.perf_counter()
    frames = reader(path, None)
    return f"{len(frames) / (time.perf_counter() - start):.0f} fps"


def _seeks(reader: Reader, path: Path) -> str:
    reference = reader(path, None)
    picks = [5, 47, 13, 88, 30, 61, 0, 89]
    right = sum(np.array_equal(reader(path, k), reference[k]) for k in picks)
    return f"{right}/{len(picks)} exact"


def _count(reader: Reader, path: Path, expected: int) -> str:
    frames = reader(path, None)
    return f"{len(frames)} frames" + ("" if len(frames) == expected else f" (want {expected})")


def _upright(reader: Reader, path: Path) -> str:
    frame = reader(path, 3)
    return "upright" if frame is not None and frame.shape[:2] == (160, 120) else f"shape {frame.shape[:2]}"


def _corrupt(reader: Reader, path: Path) -> str:
    frames = reader(path, None)
    return "error" if not frames else f"{len(frames)} garbage frames"


def measure(name: str, reader: Reader, clips: Dict[str, Path]) -> List[str]:
    """One table row for ``reader``."""
    return [name] + [_attempt(check) for check in (
        lambda: _speed(reader, clips["h264_1080.mp4"]),
        lambda: _speed(reader, clips["hevc10_1080.mp4"]),
        lambda: _seeks(reader, clips["seek.mp4"]),
        lambda: _count(reader, clips["vfr.mp4"], 24),
        lambda: _upright(reader, clips["rotated.mp4"]),
        lambda: _count(reader, clips["truncated.mp4"], 30),
        lambda: _count(reader, clips["av1.mp4"], 30),
        lambda: _corrupt(reader, clips["corrupt_av1.mp4"]),
    )]


def shared_rows(reader_names: List[str]) -> List[List[str]]:
    """Sequential speed on the real clips in ../shared/data (when present)."""
    rows = []
    for clip in sorted(SHARED_DATA.glob("*.mp4"))[:2]:
        rows.append([f"{clip.name}"] + [_attempt(lambda r=READERS[n]: _speed(r, clip)) for n in reader_names])
    return rows


def print_table(header: List[str], rows: List[List[str]]) -> None:
    widths = [max(len(str(row[k])) for row in [header, *rows]) for k in range(len(header))]
    for row in [header, ["-" * w for w in widths], *rows]:
        print(" | ".join(str(cell).ljust(w) for cell, w in zip(row, widths)))


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="decoders-") as folder:
        clips = make_clips(Path(folder))
        header = ["decoder", "1080p H.264", "1080p HEVC 10-bit", "random seeks", "VFR (24)", "rotation",
                  "truncated mp4", "AV1 (30)", "corrupt AV1"]
        print_table(header, [measure(name, reader, clips) for name, reader in READERS.items()])
        print()
        print_table(["real clip (sequential)", *READERS], shared_rows(list(READERS)))


if __name__ == "__main__":
    main()
