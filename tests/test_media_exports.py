"""Sound in the overlay video, cut-outs with alpha, mattes and background effects (tracker.media.media_exports)."""

import io
import subprocess
import zipfile
from pathlib import Path
from typing import List, Sequence, Tuple

import numpy as np
import pytest
from PIL import Image

from conftest import synthetic_frames
from oracle.metrics import mask_iou
from tracker.media import media_exports as mx
from tracker.media.video_io import FFMPEG, AudioClip, write_mp4

FPS, RATE = 10.0, 8000
# Source sound: a chirp (200 Hz rising 600 Hz a second), so a window of it shows where it starts.
CHIRP = "aevalsrc=exprs=sin(2*PI*(200*t+300*t*t)):s=16000:d=1"


def ffmpeg(*args: str) -> bytes:
    return subprocess.run([FFMPEG, "-hide_banner", "-nostdin", "-v", "error", "-y", *args],
                          check=True, capture_output=True).stdout


def decode_video(path: Path, size: Tuple[int, int], pix_fmt: str, decoder: Sequence[str] = ()) -> np.ndarray:
    """(T, H, W, C) uint8 frames of ``size`` (H, W) (mp4s are stored padded to even sizes)."""
    channels = {"rgba": 4, "rgb24": 3, "gray": 1}[pix_fmt]
    height, width = (side + side % 2 for side in size) if path.suffix == ".mp4" else size
    raw = ffmpeg(*decoder, "-i", str(path), "-f", "rawvideo", "-pix_fmt", pix_fmt, "-")
    return np.frombuffer(raw, np.uint8).reshape(-1, height, width, channels)[:, : size[0], : size[1]]


def decode_audio(path: Path) -> np.ndarray:
    """(samples,) float32 mono at RATE."""
    return np.frombuffer(ffmpeg("-i", str(path), "-vn", "-ac", "1", "-ar", str(RATE), "-f", "f32le", "-"), np.float32)


def streams(path: Path) -> str:
    return subprocess.run([FFMPEG, "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr


def square_masks(frames: List[np.ndarray]) -> List[np.ndarray]:
    """The synthetic frames' moving square, (H, W) bool each."""
    return [np.all(frame == (230, 200, 40), axis=-1) for frame in frames]


def interior(masks: np.ndarray) -> np.ndarray:
    """(T, H, W) bool: the masks shrunk by one pixel (away from chroma-subsampled edges)."""
    inner = masks.copy()
    inner[:, 1:-1, 1:-1] &= masks[:, :-2, 1:-1] & masks[:, 2:, 1:-1] & masks[:, 1:-1, :-2] & masks[:, 1:-1, 2:]
    inner[:, [0, -1]] = inner[:, :, [0, -1]] = False
    return inner


@pytest.fixture(scope="module")
def clip() -> Tuple[List[np.ndarray], List[np.ndarray]]:
    frames = synthetic_frames(10, 48, 64)
    return frames, square_masks(frames)


@pytest.fixture(scope="module")
def source_with_sound(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("source") / "source.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48:rate=10", "-f", "lavfi", "-i", CHIRP, "-t", "1",
           "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", str(path))
    return path


# ------------------------------------------------------------------------------------- sound
def test_overlay_carries_the_window_of_the_source_sound(tmp_path, clip, source_with_sound):
    frames, _ = clip
    audio = AudioClip.for_frames(source_with_sound, np.arange(10) / FPS, range(3, 9), FPS)
    assert audio.start_seconds == pytest.approx(0.3) and audio.duration_seconds == pytest.approx(0.6)
    out = write_mp4(tmp_path / "overlay.mp4", frames[3:9], FPS, audio)
    assert "Audio: aac" in streams(out) and not list(tmp_path.glob("*.silent.*"))
    assert len(decode_video(out, (48, 64), "rgb24")) == 6
    sound, source = decode_audio(out), decode_audio(source_with_sound)
    assert len(sound) / RATE == pytest.approx(0.6, abs=0.03)
    lag = int(np.argmax(np.correlate(source, sound[: int(0.5 * RATE)], mode="valid")))
    assert lag / RATE == pytest.approx(0.3, abs=0.005)


@pytest.mark.parametrize("kind", ["no sound", "not media"])
def test_a_source_without_sound_gives_a_silent_video(tmp_path, clip, kind):
    frames, _ = clip
    source = tmp_path / "source.mp4"
    if kind == "no sound":
        write_mp4(source, frames, FPS)
    else:
        source.write_text("not a video")
    out = write_mp4(tmp_path / "overlay.mp4", frames[3:9], FPS, AudioClip(source, 0.3, 0.6))
    assert "Audio:" not in streams(out) and not list(tmp_path.glob("*.silent.*"))
    assert len(decode_video(out, (48, 64), "rgb24")) == 6


# ---------------------------------------------------------------------------------- cut-outs
@pytest.mark.parametrize("size", [(48, 64), (47, 63)])
def test_cutout_alpha_is_the_mask_and_colour_the_frame(tmp_path, size):
    frames = synthetic_frames(10, *size)
    masks = np.array(square_masks(frames))
    out = mx.write_cutout(tmp_path / "cutout.webm", range(10), frames.__getitem__, masks.__getitem__, FPS)
    # ffmpeg's own VP9 decoder drops alpha: libvpx decodes it.
    decoded = decode_video(out, size, "rgba", ("-c:v", "libvpx-vp9"))
    assert decoded.shape == (10, *size, 4)
    assert mask_iou(decoded[..., 3] >= 128, masks) >= 0.98
    error = np.abs(decoded[..., :3].astype(int) - np.array(frames))
    assert error[interior(masks)].mean() < 6 and error[masks].mean() < 12


def test_cutout_pngs_are_exact(tmp_path, clip):
    frames, masks = clip
    mask_of = {2: masks[2], 5: None}.get
    out = mx.write_cutout_pngs(tmp_path / "cutout.zip", [2, 5], frames.__getitem__, mask_of)
    with zipfile.ZipFile(out) as archive:
        assert archive.namelist() == ["00002.png", "00005.png"]
        two, five = (np.array(Image.open(io.BytesIO(archive.read(n)))) for n in archive.namelist())
    assert two.shape == (48, 64, 4) and np.array_equal(two[..., 3] == 255, masks[2])
    assert np.array_equal(two[masks[2]][:, :3], frames[2][masks[2]]) and not two[~masks[2]].any()
    assert not five.any()


# ------------------------------------------------------------------------------------ mattes
@pytest.mark.parametrize("size", [(48, 64), (47, 63)])
def test_matte_thresholds_back_to_the_mask(tmp_path, size):
    masks = np.array(square_masks(synthetic_frames(10, *size)))
    def mask_of(frame_idx: int):  # the object has left on the last frame
        return None if frame_idx == 9 else masks[frame_idx]

    out = mx.write_matte(tmp_path / "matte.mp4", range(10), mask_of, size, FPS)
    decoded = decode_video(out, size, "gray")[..., 0]
    assert decoded.shape == (10, *size)
    assert mask_iou(decoded[:9] >= 128, masks[:9]) >= 0.98 and not (decoded[9] >= 128).any()


def test_union_mask_joins_all_objects():
    a, b = np.zeros((2, 3), bool), np.zeros((2, 3), bool)
    a[0, 0], b[1, 2] = True, True
    assert np.array_equal(mx.union_mask({1: a, 2: b}), a | b) and mx.union_mask({}) is None


# -------------------------------------------------------------------------- background effect
def local_variance(gray: np.ndarray) -> np.ndarray:
    """(T, H-2, W-2): each pixel's variance over its 3x3 neighbourhood."""
    windows = np.lib.stride_tricks.sliding_window_view(gray.astype(np.float64), (3, 3), axis=(1, 2))
    return windows.var(axis=(-1, -2))


def test_background_blur_keeps_the_objects_and_smooths_the_rest(tmp_path, clip):
    frames, masks = clip
    out = mx.write_background_effect(tmp_path / "blur.mp4", range(10), frames.__getitem__,
                                      lambda i: {1: masks[i]}, FPS)
    decoded, source, inside = decode_video(out, (48, 64), "rgb24").astype(int), np.array(frames), np.array(masks)
    assert np.abs(decoded - source)[interior(inside)].mean() < 6
    # Well outside the square (it spans rows 12..31): rows 40.. and 0..6.
    far = np.r_[0:6, 40:46]
    blurred, original = local_variance(decoded.mean(-1))[:, far], local_variance(source.mean(-1))[:, far]
    assert blurred.mean() < 0.2 * original.mean()


def test_background_erase_turns_the_rest_gray_and_keeps_the_sound(tmp_path, clip, source_with_sound):
    frames, masks = clip
    audio = AudioClip(source_with_sound, 0.0, 1.0)
    out = mx.write_background_effect(tmp_path / "erase.mp4", range(10), frames.__getitem__,
                                     lambda i: {1: masks[i]} if i else {}, FPS, "erase", audio)
    decoded, inside = decode_video(out, (48, 64), "rgb24").astype(int), np.array(masks)
    inside[0] = False
    assert np.abs(decoded - 128)[interior(~inside)].mean() < 3
    assert np.abs(decoded - np.array(frames))[interior(inside)].mean() < 6
    assert "Audio: aac" in streams(out)


def test_unknown_background_effect_is_refused(tmp_path, clip):
    frames, _ = clip
    with pytest.raises(ValueError, match="background effect"):
        mx.write_background_effect(tmp_path / "x.mp4", range(2), frames.__getitem__, lambda i: {}, FPS, "sepia")
