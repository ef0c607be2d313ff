"""Tests for sam2.frames.source: ordering, preprocessing parity, caching, seeking, errors."""

from __future__ import annotations

import hashlib
import os
import pickle
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from oracle import reference_env
from oracle.paths import SHARED_DATA as DATA
from sam2.frames.opening import open_frame_source
from sam2.frames.source import ArraySource, FrameSource, JpegFolderSource
from sam2.frames.video_file import VideoFileSource


# Synthetic videos carry their frame index as 8 black/white vertical bars (bit k = bar k),
# which survive lossy compression, so a decoded frame tells which frame it is.
BAR = 16
W, H = 8 * BAR, 64


def index_frame(i: int) -> np.ndarray:
    frame = np.zeros((H, W, 3), np.uint8)
    for bit in range(8):
        if (i >> bit) & 1:
            frame[:, bit * BAR : (bit + 1) * BAR] = 255
    return frame


def frame_index(rgb: np.ndarray) -> int:
    bars = [rgb[8:-8, b * BAR + 4 : (b + 1) * BAR - 4].mean() > 127 for b in range(8)]
    return sum(1 << b for b, on in enumerate(bars) if on)


def write_index_video(path: Path, n: int, fps: float, fourcc: str = "mp4v") -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (W, H))
    assert writer.isOpened(), f"cv2.VideoWriter cannot write {fourcc} here"
    for i in range(n):
        writer.write(index_frame(i)[..., ::-1])
    writer.release()
    return path


def digest(a: np.ndarray) -> str:
    return hashlib.md5(np.ascontiguousarray(a).tobytes()).hexdigest()


def sequential_digests(path: Path, wanted=None) -> dict[int, str]:
    """Digests (RGB) of the ``wanted`` frames (all if None) under plain sequential decoding,
    plus the frame count under key -1."""
    cap = cv2.VideoCapture(str(path))
    out, n = {}, 0
    while cap.grab():
        if wanted is None or n in wanted:
            ok, bgr = cap.retrieve()
            assert ok
            out[n] = digest(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        n += 1
    cap.release()
    out[-1] = n
    return out


@pytest.fixture(scope="module")
def index_video(tmp_path_factory) -> Path:
    return write_index_video(tmp_path_factory.mktemp("video") / "index.mp4", n=40, fps=12.0)


# -- JPEG folders ------------------------------------------------------------------------


def solid_jpeg(path: Path, color, size=(24, 16)) -> None:
    Image.new("RGB", size, color).save(path, quality=95)


def test_jpeg_folder_orders_by_integer_stem(tmp_path):
    colors = {"10.jpg": (250, 0, 0), "0.jpg": (0, 250, 0), "2.jpg": (0, 0, 250), "00005.JPEG": (250, 250, 0)}
    for name, color in colors.items():
        solid_jpeg(tmp_path / name, color)
    (tmp_path / "notes.txt").write_text("not a frame")
    solid_jpeg(tmp_path / "._3.jpg", (9, 9, 9))  # hidden (e.g. macOS metadata): ignored
    (tmp_path / "7.png").write_bytes(b"")  # other extensions: ignored

    src = open_frame_source(str(tmp_path))
    assert isinstance(src, JpegFolderSource)
    assert [Path(p).name for p in src.frame_paths] == ["0.jpg", "2.jpg", "00005.JPEG", "10.jpg"]
    assert (len(src), src.num_frames, src.video_width, src.video_height, src.fps) == (4, 4, 24, 16, None)
    for k, name in enumerate(["0.jpg", "2.jpg", "00005.JPEG", "10.jpg"]):
        rgb = src.read_rgb(k)
        assert rgb.shape == (16, 24, 3) and rgb.dtype == np.uint8
        assert np.abs(rgb.astype(int) - colors[name]).max() <= 3
    assert isinstance(open_frame_source(tmp_path), JpegFolderSource)  # pathlib.Path too


def test_jpeg_folder_rejects_non_integer_names(tmp_path):
    solid_jpeg(tmp_path / "0.jpg", (1, 2, 3))
    solid_jpeg(tmp_path / "frame_1.jpg", (1, 2, 3))
    with pytest.raises(ValueError, match=r"integer.*00000\.jpg.*frame_1\.jpg"):
        open_frame_source(tmp_path)


@pytest.mark.parametrize("content", ["empty", "png-only"])
def test_folder_without_jpeg_frames(tmp_path, content):
    if content == "png-only":
        Image.new("RGB", (8, 8)).save(tmp_path / "0.png")
    with pytest.raises(ValueError, match="no JPEG frames") as err:
        open_frame_source(tmp_path)
    assert str(tmp_path) in str(err.value) and "00000.jpg" in str(err.value)


def test_jpeg_frame_with_other_size_is_reported(tmp_path):
    solid_jpeg(tmp_path / "0.jpg", (1, 2, 3), size=(24, 16))
    solid_jpeg(tmp_path / "1.jpg", (1, 2, 3), size=(16, 16))
    src = JpegFolderSource(tmp_path)
    with pytest.raises(ValueError, match="same size"):
        src.read_rgb(1)


def test_corrupt_jpeg_frame_is_named(tmp_path):
    solid_jpeg(tmp_path / "0.jpg", (1, 2, 3))
    data = (tmp_path / "0.jpg").read_bytes()
    (tmp_path / "1.jpg").write_bytes(data[: len(data) // 2])
    src = open_frame_source(tmp_path)
    with pytest.raises(ValueError, match="1.jpg"):
        src.model_input(1, 16)


# -- preprocessing -------------------------------------------------------------------------


def expected_model_input(image: Image.Image, size: int) -> np.ndarray:
    """The documented recipe, written independently of the module."""
    x = np.asarray(image.convert("RGB").resize((size, size)), dtype=np.float64) / 255.0
    x = x.astype(np.float32).transpose(2, 0, 1)
    mean = np.array([0.485, 0.456, 0.406], np.float32)[:, None, None]
    std = np.array([0.229, 0.224, 0.225], np.float32)[:, None, None]
    return (x - mean) / std


def noise_jpeg_folder(folder: Path, n: int = 3, size=(97, 61)) -> Path:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(n):
        pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
        image = Image.fromarray(pixels)
        if k == 1:
            image = image.convert("L")  # a grayscale JPEG goes through convert("RGB")
        image.save(folder / f"{k:05d}.jpg", quality=90)
    return folder


def test_model_input_recipe(tmp_path):
    folder = noise_jpeg_folder(tmp_path / "frames")
    src = open_frame_source(folder)
    for k in range(src.num_frames):
        x = src.model_input(k, 64)
        assert x.shape == (3, 64, 64) and x.dtype == torch.float32 and x.device.type == "cpu"
        with Image.open(src.frame_paths[k]) as image:
            np.testing.assert_allclose(x.numpy(), expected_model_input(image, 64), rtol=0, atol=1e-6)


REFERENCE_SCRIPT = """
import sys, numpy as np, torch
import sam2
from sam2.utils.misc import load_video_frames
folder, out_dir = sys.argv[1], sys.argv[2]
print(sam2.__file__)
for size in map(int, sys.argv[3:]):
    images, height, width = load_video_frames(
        video_path=folder, image_size=size, offload_video_to_cpu=True,
        compute_device=torch.device("cpu"))
    np.save(f"{out_dir}/ref_{size}.npy", images.numpy())
    print(size, height, width, images.dtype)
"""


def test_model_input_bit_exact_with_reference_loader(tmp_path):
    reference = reference_env.find_or_install_reference()
    if reference is None:
        pytest.skip(f"reference sam2 unavailable: {reference_env.last_failure_reason}")
    folder = noise_jpeg_folder(tmp_path / "frames")
    sizes = [64, 1024]
    env = reference.subprocess_env()
    run = subprocess.run(
        [sys.executable, "-c", REFERENCE_SCRIPT, str(folder), str(tmp_path), *map(str, sizes)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert str(reference.pkg_dir) in run.stdout.splitlines()[0], "the subprocess imported the wrong sam2"

    src = open_frame_source(folder)
    for size in sizes:
        ref = np.load(tmp_path / f"ref_{size}.npy")
        ours = np.stack([src.model_input(k, size).numpy() for k in range(src.num_frames)])
        assert ref.dtype == ours.dtype == np.float32 and ref.shape == ours.shape
        assert np.array_equal(ref, ours), f"max diff {np.abs(ref - ours).max()} at image_size {size}"
    assert f"{sizes[0]} 61 97" in run.stdout  # the reference reports the same (H, W)
    assert (src.video_height, src.video_width) == (61, 97)


# -- cache -----------------------------------------------------------------------------------


def count_loads(src: FrameSource) -> list[int]:
    calls: list[int] = []
    load = src._load

    def counting(index):
        calls.append(index)
        return load(index)

    src._load = counting
    return calls


def test_model_input_cache_is_bounded_lru():
    frames = np.random.default_rng(1).integers(0, 256, (20, 12, 10, 3), dtype=np.uint8)
    src = ArraySource(frames, cache_size=3)
    loads = count_loads(src)
    for k in range(20):
        src.model_input(k, 16)
    info = src.cache_info()
    assert (info.misses, info.hits, info.maxsize, info.currsize) == (20, 0, 3, 3)

    first = src.model_input(19, 16)
    first.add_(100)  # callers get their own tensor: the cached one stays intact
    again = src.model_input(19, 16)
    assert src.cache_info().hits == 2 and len(loads) == 20
    assert torch.equal(again + 100, first)
    src.model_input(16, 16)  # evicted long ago -> decoded again
    assert loads[-1] == 16 and src.cache_info().currsize == 3
    src.model_input(19, 32)  # another size is another entry
    assert loads[-1] == 19

    uncached = ArraySource(frames, cache_size=0)
    uncached.model_input(0, 16)
    assert uncached.cache_info().currsize == 0


def test_a_frame_read_once_is_not_kept_and_a_kept_one_is_handed_over():
    frames = np.random.default_rng(2).integers(0, 256, (4, 12, 10, 3), dtype=np.uint8)
    src = ArraySource(frames, cache_size=3)
    once = src.model_input(0, 16, keep=False)
    assert src.cache_info().currsize == 0
    kept = src.model_input(1, 16)  # e.g. read ahead by the prefetcher
    handed = src.model_input(1, 16, keep=False)
    assert torch.equal(handed, kept) and src.cache_info().currsize == 0
    assert torch.equal(once, src.model_input(0, 16))


# -- video files -----------------------------------------------------------------------------


def test_video_metadata(index_video):
    src = open_frame_source(str(index_video))
    assert isinstance(src, VideoFileSource)
    assert (src.num_frames, len(src), src.video_width, src.video_height) == (40, 40, W, H)
    assert src.fps == pytest.approx(12.0)
    assert src.rotation == 0
    src.close()


def test_video_random_access(index_video):
    with VideoFileSource(index_video) as src:
        for k in [17, 3, 39, 0, 38, 4, 5, 6, 25, 24, 23, 1]:
            rgb = src.read_rgb(k)
            assert rgb.shape == (H, W, 3) and rgb.dtype == np.uint8
            assert frame_index(rgb) == k
        x = src.model_input(17, 32)
        expected = expected_model_input(Image.fromarray(src.read_rgb(17)), 32)
        np.testing.assert_allclose(x.numpy(), expected, rtol=0, atol=1e-6)


def test_video_reverse_reading_keeps_memory_bounded(index_video):
    src = VideoFileSource(index_video)
    for k in reversed(range(src.num_frames)):
        assert frame_index(src.read_rgb(k)) == k
        assert len(src._decoded) <= VideoFileSource.MAX_DECODED_FRAMES
    for k in range(src.num_frames):
        assert frame_index(src.read_rgb(k)) == k


def test_video_model_input_cache_avoids_decoding(index_video):
    src = VideoFileSource(index_video, cache_size=2)
    loads = count_loads(src)
    a = src.model_input(10, 32)
    b = src.model_input(10, 32)
    assert torch.equal(a, b) and loads == [10]
    assert src.cache_info().hits == 1


def test_video_read_rgb_returns_a_copy(index_video):
    src = VideoFileSource(index_video)
    first = src.read_rgb(5)
    first[:] = 0
    assert frame_index(src.read_rgb(5)) == 5


def test_video_source_pickles_for_another_process(index_video):
    src = VideoFileSource(index_video)
    src.read_rgb(30)
    src.model_input(30, 32)
    copy = pickle.loads(pickle.dumps(src))
    assert (copy.num_frames, copy.video_width, copy.video_height, copy.fps) == (40, W, H, src.fps)
    assert copy.cache_info().currsize == 0 and copy._cap is None
    for k in [31, 2, 39]:
        assert frame_index(copy.read_rgb(k)) == k
    src.close()
    assert frame_index(copy.read_rgb(0)) == 0
    with pytest.raises(ValueError, match="closed"):
        src.read_rgb(0)


def test_video_concurrent_readers(index_video):
    src = VideoFileSource(index_video)
    errors: list[str] = []

    def reader(order):
        for k in order:
            got = frame_index(src.read_rgb(k))
            if got != k:
                errors.append(f"asked {k}, got {got}")

    threads = [threading.Thread(target=reader, args=(order,)) for order in (range(40), range(39, -1, -1))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def ffmpeg_exe() -> str:
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception:  # noqa: BLE001 - any failure means "no ffmpeg here"
        exe = shutil.which("ffmpeg")
        if exe is None:
            pytest.skip("needs an ffmpeg executable (imageio-ffmpeg or PATH)")
        return exe


def ffmpeg_encode(path: Path, indices, rate: float, *extra: str) -> Path:
    data = b"".join(index_frame(i).tobytes() for i in indices)
    cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "rawvideo",
           "-pix_fmt", "rgb24", "-s", f"{W}x{H}", "-r", str(rate), "-i", "-", *extra,
           "-c:v", "libx264", "-pix_fmt", "yuv420p", str(path)]
    run = subprocess.run(cmd, input=data, capture_output=True)
    if run.returncode != 0:
        pytest.skip(f"ffmpeg could not encode H.264: {run.stderr.decode()[-300:]}")
    return path


def test_video_with_wrong_container_frame_count(tmp_path):
    # Variable frame rate in Matroska: OpenCV estimates the count from duration x fps (71).
    path = ffmpeg_encode(tmp_path / "vfr.mkv", range(30), 10,
                         "-vf", "setpts='if(lt(N,15),N,15+(N-15)*4)/10/TB'", "-fps_mode", "vfr")
    src = open_frame_source(path)
    assert src.num_frames == 30, f"container says {src.container_frame_count}"
    for k in [29, 20, 3, 16, 0]:
        assert frame_index(src.read_rgb(k)) == k
    with pytest.raises(IndexError):
        src.read_rgb(30)


def test_video_where_opencv_frame_seeking_misses(tmp_path):
    # Two H.264 parts at 30 and 5 fps joined into one MP4: seeking OpenCV to frame 25 lands on
    # frame 39, and to frames >= 29 fails. The source must still return the right frames.
    first = ffmpeg_encode(tmp_path / "a.mkv", range(0, 20), 30)
    second = ffmpeg_encode(tmp_path / "b.mkv", range(20, 40), 5)
    (tmp_path / "list.txt").write_text(f"file '{first}'\nfile '{second}'\n")
    joined = tmp_path / "mixed.mp4"
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "concat",
                    "-safe", "0", "-i", str(tmp_path / "list.txt"), "-c", "copy", str(joined)], check=True)
    src = VideoFileSource(joined)
    src.FORWARD_DECODE_LIMIT = 2  # make the source seek instead of decoding forward
    assert src.num_frames == 40
    for k in [25, 35, 30, 39, 10, 29, 2, 38]:
        assert frame_index(src.read_rgb(k)) == k


def test_truncated_download_counts_decodable_frames(tmp_path, index_video):
    # Index (moov) first, then the data cut at 60%: the container still promises 40 frames.
    faststart = tmp_path / "faststart.mp4"
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-i", str(index_video),
                    "-c", "copy", "-movflags", "+faststart", str(faststart)], check=True)
    data = faststart.read_bytes()
    cut = tmp_path / "partial.mp4"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    src = open_frame_source(cut)
    assert src.container_frame_count == 40
    assert 0 < src.num_frames < 40
    last = src.num_frames - 1
    order = [last, 0, last // 2]
    expected = sequential_digests(cut, wanted=set(order))
    assert src.num_frames == expected[-1]
    # The last decodable frame may be damaged by the cut (part of it repeats the frame before),
    # so frames are compared with plain sequential decoding rather than by their bars.
    assert [digest(src.read_rgb(k)) for k in order] == [expected[k] for k in order]
    assert [frame_index(src.read_rgb(k)) for k in (last - 1, 0, last // 2)] == [last - 1, 0, last // 2]


REAL_CLIPS = ["bedroom.mp4", "juggle.mp4"]


@pytest.mark.parametrize("name", REAL_CLIPS)
def test_real_clip_matches_opencv(name):
    path = DATA / name
    if not path.is_file():
        pytest.skip(f"{path} not found (real test clips live in ../shared/data beside the repo)")
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS)
    ok, bgr = cap.read()
    cap.release()
    src = open_frame_source(path)
    n = src.num_frames
    order = [n - 1, n // 2, 3, 4, n // 2 - 1]
    expected = sequential_digests(path, wanted=set(order))
    assert n == expected[-1]
    assert (src.video_height, src.video_width) == bgr.shape[:2]
    assert src.fps == pytest.approx(fps)
    for k in order:
        assert digest(src.read_rgb(k)) == expected[k], f"frame {k}"


# -- in-memory frames --------------------------------------------------------------------------


def test_array_source_inputs():
    frames = [index_frame(i) for i in range(5)]
    src = open_frame_source(frames)
    assert isinstance(src, ArraySource) and (src.num_frames, src.video_width, src.video_height) == (5, W, H)
    assert src.fps is None
    out = src.read_rgb(3)
    out[:] = 0  # a copy: the caller's frames are untouched
    assert frame_index(frames[3]) == 3

    stacked = open_frame_source(np.stack(frames))
    assert frame_index(stacked.read_rgb(4)) == 4
    gray = [Image.fromarray(f).convert("L") for f in frames]
    pil_src = ArraySource(gray, fps=25)
    assert pil_src.fps == 25.0 and pil_src.read_rgb(2).shape == (H, W, 3)
    assert torch.equal(pil_src.model_input(2, 16), src.model_input(2, 16))
    assert open_frame_source(pil_src) is pil_src


@pytest.mark.parametrize(
    "frames, match",
    [
        ([], "empty"),
        ([np.zeros((4, 4, 3), np.uint8), np.zeros((4, 5, 3), np.uint8)], "same size"),
        ([np.zeros((4, 4, 3), np.float32)], "uint8"),
        ([np.zeros((4, 4), np.uint8)], r"\(H, W, 3\)"),
        (np.zeros((2, 4, 4), np.uint8), "single"),
        (np.zeros((2, 4, 4, 4), np.uint8), r"\(N, H, W, 3\)"),
    ],
)
def test_array_source_rejects_bad_frames(frames, match):
    with pytest.raises(ValueError, match=match):
        open_frame_source(frames)


# -- errors ------------------------------------------------------------------------------------


def test_missing_path_is_named(tmp_path):
    for missing in [tmp_path / "nope", tmp_path / "nope.mp4"]:
        with pytest.raises(FileNotFoundError, match="nope"):
            open_frame_source(missing)
    with pytest.raises(FileNotFoundError, match="nope"):
        VideoFileSource(tmp_path / "nope.mp4")
    with pytest.raises(FileNotFoundError, match="nope"):
        JpegFolderSource(tmp_path / "nope")


@pytest.mark.parametrize("content", [b"", os.urandom(4096)], ids=["empty", "random-bytes"])
def test_unreadable_video_is_named(tmp_path, content):
    path = tmp_path / "broken.mp4"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="broken.mp4"):
        open_frame_source(path)


def test_truncated_video_is_rejected(tmp_path, index_video):
    path = tmp_path / "cut.mp4"
    data = index_video.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # the index (moov) is at the end: unreadable
    with pytest.raises(ValueError, match="cut.mp4"):
        open_frame_source(path)


def test_single_image_file_is_rejected(tmp_path):
    solid_jpeg(tmp_path / "photo.jpg", (1, 2, 3))
    with pytest.raises(ValueError, match="single image"):
        open_frame_source(tmp_path / "photo.jpg")


def test_unsupported_extension_lists_supported(tmp_path):
    path = tmp_path / "clip.xyz"
    path.write_bytes(b"data")
    with pytest.raises(ValueError, match=r"\.mp4.*\.webm"):
        open_frame_source(path)
    with pytest.raises(ValueError, match=r"\.mp4"):
        VideoFileSource(path)
    with pytest.raises(TypeError):
        open_frame_source(42)


def test_index_out_of_range(index_video):
    src = VideoFileSource(index_video)
    for bad in [40, -1, 1000]:
        with pytest.raises(IndexError, match=r"0\.\.39"):
            src.read_rgb(bad)
        with pytest.raises(IndexError, match=r"0\.\.39"):
            src.model_input(bad, 32)
    with pytest.raises(TypeError):
        src.read_rgb(1.5)
    with pytest.raises(ValueError, match="image_size"):
        src.model_input(0, 0)
    assert frame_index(src.read_rgb(np.int64(7))) == 7


def test_rotated_phone_video_comes_out_upright(tmp_path):
    """A landscape stream tagged with a 90 degree display rotation (as phones record portrait
    video) is read at its displayed size and orientation, like ffmpeg's own decoding shows it."""
    import imageio_ffmpeg

    stored = np.zeros((32, 64, 3), np.uint8)
    stored[:8, :16] = 255  # marker in the stored frame's top-left corner
    landscape = tmp_path / "landscape.mp4"
    writer = imageio_ffmpeg.write_frames(str(landscape), (64, 32), fps=10, codec="libx264", macro_block_size=1)
    writer.send(None)
    for _ in range(5):
        writer.send(stored)
    writer.close()
    portrait = tmp_path / "portrait.mp4"
    tagged = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-display_rotation", "90", "-i", str(landscape), "-c", "copy", str(portrait)],
        capture_output=True, text=True,
    )
    if tagged.returncode != 0:
        pytest.skip(f"this ffmpeg cannot tag a rotation: {tagged.stderr[-200:]}")
    source = open_frame_source(str(portrait))
    assert (source.video_height, source.video_width, source.num_frames) == (64, 32, 5)
    frame = source.read_rgb(2)
    expected = np.rot90(stored)  # displayed = stored turned a quarter counter-clockwise
    assert np.abs(frame.astype(int) - expected).mean() < 12
    assert frame[60, 2].mean() > 200 and frame[2, 2].mean() < 50
