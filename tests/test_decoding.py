"""Decoding what people upload: codecs and containers, random access, HDR to SDR, odd and
corrupt files. Every clip is generated here with imageio-ffmpeg's ffmpeg (small and fast)."""

from __future__ import annotations

import subprocess
from functools import lru_cache
from pathlib import Path

import av
import numpy as np
import pytest

from media import CASES, FFMPEG
from sam2.frames.opening import open_frame_source
from sam2.frames.video_file import VideoFileSource
from tracker.media.video_probe import UNDECODABLE, BadVideo, probe_video

W, H, N = 160, 120, 12
PATTERN = f"testsrc2=size={W}x{H}:rate=10"
#: Smooth moving colours, like camera footage (testsrc2's sharp pure colours do not survive 4:2:0).
SMOOTH = f"gradients=size={W}x{H}:rate=10:speed=0.05:seed=1"


@lru_cache(maxsize=1)
def encoders() -> str:
    return subprocess.run([FFMPEG, "-hide_banner", "-encoders"], capture_output=True, text=True).stdout


def encode(path: Path, encoder: str, *options: str, frames: int = N, vf: str = "", source: str = PATTERN) -> Path:
    """``frames`` of the moving test pattern encoded with ``encoder`` (skips when missing)."""
    if f" {encoder} " not in encoders():
        pytest.skip(f"this ffmpeg has no {encoder} encoder")
    filters = ["-vf", vf] if vf else []
    subprocess.run([FFMPEG, "-hide_banner", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", source,
                    "-frames:v", str(frames), *filters, "-c:v", encoder, *options, str(path)],
                   check=True, capture_output=True)
    return path


def sequential_frames(path: Path) -> list[np.ndarray]:
    """Every frame in order from one plain PyAV decoding pass, as RGB."""
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


X265 = ("-preset", "ultrafast", "-x265-params", "log-level=error:keyint=4:min-keyint=4")
CODECS = {
    "h264.mp4": ("libx264", "-preset", "ultrafast", "-g", "4", "-pix_fmt", "yuv420p"),
    "hevc8.mp4": ("libx265", *X265, "-pix_fmt", "yuv420p", "-tag:v", "hvc1"),
    "hevc10.mkv": ("libx265", *X265, "-pix_fmt", "yuv420p10le"),
    "av1.mp4": ("libsvtav1", "-preset", "12", "-g", "4", "-pix_fmt", "yuv420p"),
    "av1.mkv": ("libsvtav1", "-preset", "12", "-g", "4", "-pix_fmt", "yuv420p10le"),
    "vp8.webm": ("libvpx", "-deadline", "realtime", "-g", "4"),
    "vp9.webm": ("libvpx-vp9", "-deadline", "realtime", "-g", "4"),
    "prores.mov": ("prores_ks", "-profile:v", "2"),
    "mjpeg.avi": ("mjpeg", "-q:v", "3", "-pix_fmt", "yuvj420p"),
    "h264.avi": ("libx264", "-preset", "ultrafast", "-g", "4", "-bf", "0", "-pix_fmt", "yuv420p"),
}


@pytest.mark.parametrize("name", list(CODECS))
def test_codec_and_container_open_with_random_access(tmp_path, name):
    path = encode(tmp_path / name, *CODECS[name])
    expected = sequential_frames(path)
    with VideoFileSource(path) as src:
        src.FORWARD_DECODE_LIMIT = 1  # seek rather than decode through
        assert (src.num_frames, src.video_width, src.video_height) == (N, W, H) == (len(expected), W, H)
        assert src.hdr_transfer is None and src.fps == pytest.approx(10.0)
        for k in [7, 2, 11, 0, 9, 5, 6, 1, 10]:
            assert np.array_equal(src.read_rgb(k), expected[k]), f"frame {k}"
    probe = probe_video(path)
    assert (probe.width, probe.height, probe.has_audio) == (W, H, False)
    assert probe.codec == av.Codec(CODECS[name][0], "w").canonical_name


@pytest.mark.parametrize("name", list(CODECS))
def test_every_codec_opens_and_tracks_in_the_app(tmp_path, tiny_calls, name):
    from tracker.actions import opening, prompting, tracking

    session = opening.open_video(tiny_calls, str(encode(tmp_path / name, *CODECS[name])))
    prompting.click(tiny_calls, session, W / 2, H / 2, prompting.INCLUDE)
    list(tracking.track(tiny_calls, session))
    assert session.tracked_frames() == list(range(N)) and session.video.size == (H, W)
    session.close()


def _sdr_frames(frames: int = N) -> np.ndarray:
    """(frames, H, W, 3) uint8: the smooth pattern as ffmpeg renders it in RGB."""
    raw = subprocess.run([FFMPEG, "-v", "error", "-f", "lavfi", "-i", SMOOTH, "-frames:v", str(frames),
                          "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], check=True, capture_output=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(frames, H, W, 3)


def encode_hdr(path: Path, sdr: np.ndarray, transfer: str) -> Path:
    """(N, H, W, 3) uint8 BT.709 frames as 10-bit HEVC in BT.2020 with ``transfer``, HDR
    reference white (203 cd/m2, BT.2408) where SDR white was."""
    if " libx265 " not in encoders():
        pytest.skip("this ffmpeg has no libx265 encoder")
    to_hdr = (f"format=gbrp,zscale=tin=bt709:pin=bt709:t={transfer}:p=bt2020:m=bt2020nc:r=tv:npl=203,"
              "format=yuv420p10le")
    subprocess.run([FFMPEG, "-hide_banner", "-nostdin", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
                    "-s", f"{W}x{H}", "-r", "10", "-i", "pipe:0", "-vf", to_hdr, "-c:v", "libx265", *X265,
                    "-color_primaries", "bt2020", "-color_trc", transfer, "-colorspace", "bt2020nc",
                    "-color_range", "tv", str(path)], input=sdr.tobytes(), check=True, capture_output=True)
    return path


@pytest.mark.parametrize("transfer, expected", [("smpte2084", "PQ"), ("arib-std-b67", "HLG")])
def test_hdr_clip_comes_back_as_its_sdr_source(tmp_path, transfer, expected):
    sdr = _sdr_frames()
    path = encode_hdr(tmp_path / f"{expected}.mp4", sdr, transfer)
    src = open_frame_source(path)
    assert src.hdr_transfer == expected and src.num_frames == N
    for k in [0, 5, 11]:
        error = np.abs(src.read_rgb(k).astype(int) - sdr[k]).mean()
        assert error < 12, f"frame {k}: {error:.1f} levels off"
    probe = probe_video(path)
    assert (probe.hdr, probe.bit_depth, probe.color_primaries) == (expected, 10, "bt2020")


def test_reading_far_ahead_keeps_no_earlier_frames(tmp_path):
    path = encode(tmp_path / "long.mp4", "libx264", "-preset", "ultrafast", "-g", "10", "-pix_fmt", "yuv420p",
                  frames=120)
    src = VideoFileSource(path, decoded_cache_bytes=4 * W * H * 3)
    src.read_rgb(0)
    before = src.frames_decoded
    src.read_rgb(105)
    assert src.frames_decoded - before <= 10 + 2  # from the keyframe at 100, not from frame 0
    assert len(src._decoded) <= 4
    assert np.array_equal(src.read_rgb(105), sequential_frames(path)[105])


@pytest.mark.parametrize("case", ["rotation metadata", "variable frame rate"])
def test_rotated_and_variable_rate_clips(tmp_path, case):
    media = next(c for c in CASES if c.name == case)
    path = media.build(tmp_path)
    src = open_frame_source(path)
    assert (src.video_width, src.video_height) == media.size and src.num_frames == media.frames
    gaps = np.diff(src.frame_times())
    if case == "variable frame rate":
        np.testing.assert_allclose(gaps[:11], 0.1, atol=1e-3)
        np.testing.assert_allclose(gaps[12:], 1 / 30, atol=1e-3)
        assert probe_video(path).variable_frame_rate
    else:
        assert src.rotation == 270 and probe_video(path).rotation == 90


def test_corrupt_av1_file_is_refused_clearly(tmp_path):
    path = encode(tmp_path / "clip.mp4", *CODECS["av1.mp4"])
    data = bytearray(path.read_bytes())
    start = data.find(b"mdat") + 4 + 64  # keep the container's header and the sequence header
    end = data.find(b"moov") if data.find(b"moov") > start else len(data)
    data[start:end] = np.random.default_rng(0).integers(0, 256, end - start, dtype=np.uint8).tobytes()
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="broken.mp4.*could be decoded"):
        VideoFileSource(broken)
    with pytest.raises(BadVideo) as refused:
        probe_video(broken)
    assert str(refused.value) == UNDECODABLE
