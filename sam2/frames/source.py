"""Lazy access to the frames of a video: JPEG folders, video files and in-memory arrays.

Every source exposes the video's metadata at open time and decodes frames only when asked:

* ``read_rgb(i)``      -> ``np.ndarray`` (H, W, 3) uint8, original resolution, owned by the caller;
* ``model_input(i, s)`` -> ``torch.Tensor`` (3, s, s) float32 on the CPU, normalised for SAM 2.

Model inputs are built the way the official video loader builds them for JPEG folders (PIL
``convert("RGB")``, PIL ``resize`` with its default filter, ``/ 255``, ImageNet mean/std) and
kept in a small LRU cache, so memory does not grow with the length of the video.
"""

from __future__ import annotations

import abc
import operator
import os
import threading
from collections import OrderedDict
from typing import NamedTuple, Sequence, Union

import numpy as np
import torch
from PIL import Image

from ..runtime.memory_policy import DEFAULT_MEMORY_POLICY

__all__ = [
    "IMAGE_MEAN",
    "IMAGE_STD",
    "JPEG_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "CacheInfo",
    "FrameSource",
    "JpegFolderSource",
    "ArraySource",
    "FRAME_NAMING",
]

IMAGE_MEAN = (0.485, 0.456, 0.406)
IMAGE_STD = (0.229, 0.224, 0.225)
JPEG_EXTENSIONS = (".jpg", ".jpeg")
VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi")
FRAME_NAMING = "frames named by their integer index, e.g. 00000.jpg, 00001.jpg, ..."

_MEAN = torch.tensor(IMAGE_MEAN, dtype=torch.float32).view(3, 1, 1)
_STD = torch.tensor(IMAGE_STD, dtype=torch.float32).view(3, 1, 1)

Frame = Union[np.ndarray, Image.Image]


def _normalised(image: Image.Image, image_size: int) -> torch.Tensor:
    """PIL image (any mode) -> (3, image_size, image_size) float32, SAM 2 normalisation,
    bit-identical to the official JPEG loader: level / 255 (the same float32 for every level
    as the loader's float64 division), then ``(x - mean) / std`` in float32, in place."""
    resized = np.array(image.convert("RGB").resize((image_size, image_size)))
    channels_first = torch.from_numpy(resized).permute(2, 0, 1)
    x = channels_first.to(torch.float32, memory_format=torch.contiguous_format)
    return x.div_(255.0).sub_(_MEAN).div_(_STD)


class CacheInfo(NamedTuple):
    """Statistics of a source's model-input cache (like ``functools.lru_cache``)."""

    hits: int
    misses: int
    maxsize: int
    currsize: int


class FrameSource(abc.ABC):
    """A video as an indexable, lazily decoded sequence of RGB frames.

    Attributes: ``num_frames``, ``video_height``, ``video_width`` (pixels of the frames as
    ``read_rgb`` returns them) and ``fps`` (``None`` when unknown, e.g. JPEG folders).
    Access is serialised by a lock, so one source may be shared between threads. A source
    pickles (to hand a video to another process): the copy reads the same files or frames.
    """

    num_frames: int
    video_height: int
    video_width: int
    fps: float | None

    def __init__(self, cache_size: int = DEFAULT_MEMORY_POLICY.model_input_cache_frames) -> None:
        if int(cache_size) < 0:
            raise ValueError(f"cache_size must be >= 0, got {cache_size}")
        self.cache_size = int(cache_size)
        self._cache: OrderedDict[tuple[int, int], torch.Tensor] = OrderedDict()
        self._hits = 0
        self._misses = 0
        self._lock = threading.RLock()

    # -- to implement ---------------------------------------------------------------------
    @abc.abstractmethod
    def _load(self, index: int) -> Frame:
        """Frame ``index`` (already range-checked) as a PIL image or an (H, W, 3) uint8 array.

        An array may be shared with the source: the public methods never modify or leak it.
        """

    # -- public API -----------------------------------------------------------------------
    def __len__(self) -> int:
        return self.num_frames

    def read_rgb(self, index: int) -> np.ndarray:
        """Frame ``index`` as a new (H, W, 3) uint8 RGB array at the original resolution."""
        i = self._check_index(index)
        with self._lock:
            frame = self._load(i)
            if isinstance(frame, Image.Image):
                return np.array(frame.convert("RGB"))
            return np.array(frame, dtype=np.uint8, copy=True)

    def model_input(self, index: int, image_size: int, keep: bool = True) -> torch.Tensor:
        """Frame ``index`` as a (3, image_size, image_size) float32 CPU tensor for SAM 2.

        Resized with PIL (default filter), scaled to [0, 1] and normalised with ImageNet
        mean/std. The result is a fresh tensor; the cached copy stays untouched. With
        ``keep=False`` (a frame read once, as tracking reads them) the frame is not cached and
        a cached copy is handed over and leaves the cache: frames kept for a few frames among
        each frame's short-lived blocks fragmented the C heap, which then grew with the video.
        """
        i = self._check_index(index)
        size = operator.index(image_size)
        if size <= 0:
            raise ValueError(f"image_size must be a positive integer, got {image_size}")
        key = (i, size)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._hits += 1
                if not keep:
                    return self._cache.pop(key)
                self._cache.move_to_end(key)
                return cached.clone()
            self._misses += 1
            frame = self._load(i)
            image = frame if isinstance(frame, Image.Image) else Image.fromarray(frame)
            tensor = _normalised(image, size)
            if keep and self.cache_size > 0:
                self._cache[key] = tensor
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
                return tensor.clone()
            return tensor

    def frame_times(self) -> np.ndarray:
        """(num_frames,) float64: when each frame starts, in seconds from the first (steady
        at ``fps``, 30 when unknown; sources that know their timestamps override this)."""
        return np.arange(self.num_frames, dtype=np.float64) / (self.fps or 30.0)

    def cache_info(self) -> CacheInfo:
        """Hits, misses, capacity and current size of the model-input cache."""
        with self._lock:
            return CacheInfo(self._hits, self._misses, self.cache_size, len(self._cache))

    def clear_cache(self) -> None:
        """Drop every cached model input."""
        with self._lock:
            self._cache.clear()

    def close(self) -> None:
        """Release files/decoders held by the source (no-op by default)."""
        self.clear_cache()

    def __getstate__(self) -> dict:
        """Pickled without the lock and the cached model inputs (another process rebuilds them)."""
        state = self.__dict__.copy()
        state["_lock"] = None
        state["_cache"] = OrderedDict()
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()

    def __enter__(self) -> "FrameSource":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        fps = "unknown" if self.fps is None else f"{self.fps:g}"
        return (
            f"{type(self).__name__}({self.num_frames} frames, "
            f"{self.video_width}x{self.video_height}, fps={fps})"
        )

    # -- helpers --------------------------------------------------------------------------
    def _check_index(self, index: int) -> int:
        try:
            i = operator.index(index)
        except TypeError:
            kind = type(index).__name__
            raise TypeError(f"frame index must be an integer, got {kind}") from None
        if not 0 <= i < self.num_frames:
            raise IndexError(
                f"frame index {i} out of range: valid indices are 0..{self.num_frames - 1} "
                f"({self.num_frames} frames)"
            )
        return i


class JpegFolderSource(FrameSource):
    """A folder of JPEG frames (``.jpg``/``.jpeg``, any case) ordered by the integer file stem.

    ``10.jpg`` comes after ``2.jpg``, as in the official loader. Hidden files are ignored.
    The frame size is taken from the first frame; ``fps`` is ``None``.
    """

    def __init__(
        self,
        folder: str | os.PathLike,
        *,
        cache_size: int = DEFAULT_MEMORY_POLICY.model_input_cache_frames,
    ) -> None:
        super().__init__(cache_size)
        self.folder = os.fspath(folder)
        if not os.path.exists(self.folder):
            raise FileNotFoundError(f"video frame folder not found: {self.folder!r}")
        if not os.path.isdir(self.folder):
            raise ValueError(f"not a folder: {self.folder!r}")
        self.frame_paths = self._list_frames(self.folder)
        with self._open(self.frame_paths[0]) as first:
            self.video_width, self.video_height = first.size
        self.num_frames = len(self.frame_paths)
        self.fps = None

    @staticmethod
    def _list_frames(folder: str) -> list[str]:
        keyed: list[tuple[int, str]] = []
        unnamed: list[str] = []
        with os.scandir(folder) as entries:
            for entry in entries:
                stem, ext = os.path.splitext(entry.name)
                if entry.name.startswith(".") or ext.lower() not in JPEG_EXTENSIONS:
                    continue
                if not entry.is_file():
                    continue
                try:
                    keyed.append((int(stem), entry.name))
                except ValueError:
                    unnamed.append(entry.name)
        if unnamed:
            shown = ", ".join(sorted(unnamed)[:5]) + (" ..." if len(unnamed) > 5 else "")
            raise ValueError(
                f"cannot order the JPEG frames in {folder!r}: expected {FRAME_NAMING}; "
                f"{len(unnamed)} file(s) have a non-integer name: {shown}"
            )
        if not keyed:
            raise ValueError(
                f"no JPEG frames (.jpg/.jpeg) found in folder {folder!r}; expected {FRAME_NAMING}"
            )
        keyed.sort()
        return [os.path.join(folder, name) for _, name in keyed]

    @staticmethod
    def _open(path: str, decode: bool = False) -> Image.Image:
        try:
            image = Image.open(path)
            if decode:
                image.load()
            return image
        except OSError as err:
            raise ValueError(f"cannot read JPEG frame {path!r}: {err}") from err

    def _load(self, index: int) -> Image.Image:
        path = self.frame_paths[index]
        image = self._open(path, decode=True)
        width, height = image.size
        if (width, height) != (self.video_width, self.video_height):
            raise ValueError(
                f"frame {path!r} is {width}x{height} but the video is "
                f"{self.video_width}x{self.video_height} (all frames must have the same size)"
            )
        return image


class ArraySource(FrameSource):
    """Frames already in memory: a list of (H, W, 3) uint8 arrays / PIL images, or (N, H, W, 3).

    The frames are referenced, not copied; ``read_rgb`` returns copies.
    """

    def __init__(
        self,
        frames: Sequence[Frame] | np.ndarray,
        *,
        fps: float | None = None,
        cache_size: int = DEFAULT_MEMORY_POLICY.model_input_cache_frames,
    ) -> None:
        super().__init__(cache_size)
        if isinstance(frames, np.ndarray):
            if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
                raise ValueError(
                    "a frame array must be (N, H, W, 3) uint8, got "
                    f"shape {frames.shape} dtype {frames.dtype}"
                )
            items: Sequence[Frame] = frames
        else:
            items = list(frames)
        if len(items) == 0:
            raise ValueError("no frames given: the frame list/array is empty")
        sizes = {self._size_of(k, frame) for k, frame in enumerate(items)}
        if len(sizes) != 1:
            raise ValueError(
                f"all frames must have the same size, got (width, height) {sorted(sizes)}"
            )
        self._frames = items
        (self.video_width, self.video_height), = sizes
        self.num_frames = len(items)
        self.fps = None if fps is None else float(fps)

    @staticmethod
    def _size_of(k: int, frame: Frame) -> tuple[int, int]:
        if isinstance(frame, Image.Image):
            return frame.size
        if not isinstance(frame, np.ndarray):
            what = type(frame).__name__
        elif frame.ndim == 3 and frame.shape[2] == 3 and frame.dtype == np.uint8:
            return frame.shape[1], frame.shape[0]
        else:
            what = f"shape {frame.shape} dtype {frame.dtype}"
        raise ValueError(f"frame {k} must be an (H, W, 3) uint8 array or a PIL image, got {what}")

    def _load(self, index: int) -> Frame:
        frame = self._frames[index]
        return frame if isinstance(frame, Image.Image) else np.ascontiguousarray(frame)
