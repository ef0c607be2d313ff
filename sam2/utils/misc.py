"""The helpers third-party code imports from the official ``sam2.utils.misc``: frame loading,
point concatenation, boxes and connected components of masks, hole filling.

Frames load through this package's frame sources: a JPEG folder gives the official loader's
tensors bit for bit; a video file is decoded with PyAV (the official one needs decord), so its
resized frames may differ from the official ones by resampling.
"""

import os
import tempfile
import threading
import warnings
from typing import Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import torch
from PIL import Image

from ..frames.opening import open_frame_source
from ..frames.source import IMAGE_MEAN, IMAGE_STD, FrameSource
from ..modeling.mask_postprocessing import fill_holes_in_mask_scores as _fill_holes

Frames = Tuple[torch.Tensor, int, int]  # (N, 3, S, S) float32 normalised, video height, width


def get_sdpa_settings() -> Tuple[bool, bool, bool]:
    """(old GPU, use Flash Attention, keep the math kernel) for scaled dot-product attention:
    Flash Attention on CUDA GPUs of compute capability 8.0 or newer; on the CPU, math only."""
    if not torch.cuda.is_available():
        return True, False, True
    major = torch.cuda.get_device_properties(0).major
    flash = major >= 8
    if not flash:
        warnings.warn("Flash Attention needs a GPU of CUDA capability 8.0 (Ampere) or newer", UserWarning,
                      stacklevel=2)
    return major < 7, flash, not flash


def get_connected_components(mask: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """8-connected components of (N, 1, H, W) binary masks -> (labels, areas), both (N, 1, H, W)
    int32 on the mask's device: each foreground pixel's component label (from 1) and that
    component's area; 0 on the background. Runs on any device (OpenCV on the CPU)."""
    binary = (mask != 0).to(torch.uint8).cpu().numpy()
    labels = np.zeros(binary.shape, np.int32)
    areas = np.zeros(binary.shape, np.int32)
    for index in range(binary.shape[0]):
        _, found, stats, _ = cv2.connectedComponentsWithStats(binary[index, 0], connectivity=8)
        component_area = stats[:, cv2.CC_STAT_AREA].astype(np.int32)
        component_area[0] = 0
        labels[index, 0] = found
        areas[index, 0] = component_area[found]
    return torch.from_numpy(labels).to(mask.device), torch.from_numpy(areas).to(mask.device)


def mask_to_box(masks: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) bool masks -> (B, 1, 4) int32 boxes (x0, y0, x1, y1), corners inclusive; an
    empty mask gives (W, H, -1, -1)."""
    height, width = masks.shape[-2:]
    columns = masks.any(dim=-2)  # (B, 1, W)
    rows = masks.any(dim=-1)  # (B, 1, H)
    x = torch.arange(width, device=masks.device, dtype=torch.int32)
    y = torch.arange(height, device=masks.device, dtype=torch.int32)
    x0 = torch.where(columns, x, width).amin(dim=-1)
    x1 = torch.where(columns, x, -1).amax(dim=-1)
    y0 = torch.where(rows, y, height).amin(dim=-1)
    y1 = torch.where(rows, y, -1).amax(dim=-1)
    return torch.stack([x0, y0, x1, y1], dim=-1)


def _load_img_as_tensor(img_path: str, image_size: int) -> Tuple[torch.Tensor, int, int]:
    """An image file -> ((3, S, S) float64 in [0, 1], resized as the official loader does; its
    original height, width). Not normalised."""
    with Image.open(img_path) as image:
        width, height = image.size
        pixels = np.asarray(image.convert("RGB").resize((image_size, image_size)))
    if pixels.dtype != np.uint8:
        raise RuntimeError(f"unexpected pixel type {pixels.dtype} in {img_path}")
    return torch.from_numpy(pixels / 255.0).permute(2, 0, 1), height, width


def _stats(values: Sequence[float]) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32).view(3, 1, 1)


def _device(compute_device: Optional[Union[str, torch.device]]) -> torch.device:
    if compute_device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(compute_device)


def _source_frames(source: FrameSource, image_size: int, offload_video_to_cpu: bool, img_mean, img_std,
                   compute_device) -> Frames:
    """Every frame of ``source`` resized to ``image_size`` and normalised by ``img_mean`` and
    ``img_std`` (in that order, in float32, as the official loaders)."""
    images = torch.zeros(source.num_frames, 3, image_size, image_size, dtype=torch.float32)
    for index in range(source.num_frames):
        resized = Image.fromarray(source.read_rgb(index)).resize((image_size, image_size))
        images[index] = torch.from_numpy(np.asarray(resized) / 255.0).permute(2, 0, 1)
    mean, std = _stats(img_mean), _stats(img_std)
    if not offload_video_to_cpu:
        device = _device(compute_device)
        images, mean, std = images.to(device), mean.to(device), std.to(device)
    images -= mean
    images /= std
    return images, source.video_height, source.video_width


class AsyncVideoFrameLoader:
    """Normalised frames of a JPEG folder that load in a background thread: ``loader[i]`` is
    frame i as (3, S, S) float32 (loaded at once if the thread has not reached it yet);
    ``video_height`` and ``video_width`` are known from the start."""

    def __init__(self, img_paths: Sequence[str], image_size: int, offload_video_to_cpu: bool,
                 img_mean: torch.Tensor, img_std: torch.Tensor, compute_device=None) -> None:
        self.img_paths = list(img_paths)
        self.image_size = image_size
        self.offload_video_to_cpu = offload_video_to_cpu
        self.img_mean, self.img_std = img_mean, img_std
        self.compute_device = _device(compute_device)
        self.images = [None] * len(self.img_paths)
        self.exception: Optional[BaseException] = None
        self.video_height = self.video_width = None
        self[0]
        self.thread = threading.Thread(target=self._load_all, daemon=True)
        self.thread.start()

    def _load_all(self) -> None:
        try:
            for index in range(len(self.images)):
                self[index]
        except Exception as error:  # reported by the next read
            self.exception = error

    def __getitem__(self, index: int) -> torch.Tensor:
        if self.exception is not None:
            raise RuntimeError("loading the frames in the background failed") from self.exception
        if self.images[index] is None:
            image, self.video_height, self.video_width = _load_img_as_tensor(self.img_paths[index], self.image_size)
            image = (image - self.img_mean) / self.img_std
            if not self.offload_video_to_cpu:
                image = image.to(self.compute_device, non_blocking=True)
            self.images[index] = image
        return self.images[index]

    def __len__(self) -> int:
        return len(self.images)


def load_video_frames_from_jpg_images(video_path: str, image_size: int, offload_video_to_cpu: bool,
                                      img_mean=IMAGE_MEAN, img_std=IMAGE_STD, async_loading_frames: bool = False,
                                      compute_device=None):
    """A folder of JPEG frames named by their index -> (frames, video height, width); with
    ``async_loading_frames`` the frames are an :class:`AsyncVideoFrameLoader`."""
    if not (isinstance(video_path, (str, os.PathLike)) and os.path.isdir(video_path)):
        raise NotImplementedError(f"expected a folder of JPEG frames, got {video_path!r}")
    source = open_frame_source(os.fspath(video_path))
    try:
        if async_loading_frames:
            loader = AsyncVideoFrameLoader(source.frame_paths, image_size, offload_video_to_cpu,
                                           _stats(img_mean), _stats(img_std), compute_device)
            return loader, loader.video_height, loader.video_width
        return _source_frames(source, image_size, offload_video_to_cpu, img_mean, img_std, compute_device)
    finally:
        source.close()


def load_video_frames_from_video_file(video_path: Union[str, bytes], image_size: int, offload_video_to_cpu: bool,
                                      img_mean=IMAGE_MEAN, img_std=IMAGE_STD, compute_device=None) -> Frames:
    """A video file (a path, or its bytes) -> (frames, video height, width), decoded with PyAV."""
    if isinstance(video_path, bytes):
        with tempfile.NamedTemporaryFile(suffix=".mp4") as copy:
            copy.write(video_path)
            copy.flush()
            return load_video_frames_from_video_file(copy.name, image_size, offload_video_to_cpu, img_mean, img_std,
                                                     compute_device)
    source = open_frame_source(os.fspath(video_path))
    try:
        return _source_frames(source, image_size, offload_video_to_cpu, img_mean, img_std, compute_device)
    finally:
        source.close()


def load_video_frames(video_path, image_size: int, offload_video_to_cpu: bool, img_mean=IMAGE_MEAN,
                      img_std=IMAGE_STD, async_loading_frames: bool = False, compute_device=None):
    """The frames of a video file (path or bytes) or a JPEG folder, resized to ``image_size`` and
    normalised, on ``compute_device`` (default: CUDA when there is one) unless
    ``offload_video_to_cpu`` -> (frames (N, 3, S, S) float32, video height, video width)."""
    if isinstance(video_path, (str, os.PathLike)) and os.path.isdir(video_path):
        return load_video_frames_from_jpg_images(video_path, image_size, offload_video_to_cpu, img_mean, img_std,
                                                 async_loading_frames, compute_device)
    if isinstance(video_path, (bytes, str, os.PathLike)):
        return load_video_frames_from_video_file(video_path, image_size, offload_video_to_cpu, img_mean, img_std,
                                                 compute_device)
    raise NotImplementedError(f"expected a video file, its bytes or a folder of JPEG frames, got {type(video_path)}")


def fill_holes_in_mask_scores(mask: torch.Tensor, max_area: int) -> torch.Tensor:
    """(N, 1, H, W) mask logits with background holes of at most ``max_area`` pixels turned into
    weak foreground (0.1)."""
    return _fill_holes(mask, max_area)


def concat_points(old_point_inputs: Optional[dict], new_points: torch.Tensor, new_labels: torch.Tensor) -> dict:
    """Point prompts ``{"point_coords": (B, N, 2), "point_labels": (B, N)}`` with ``new_points``
    and ``new_labels`` appended (or made of them when there were none)."""
    if old_point_inputs is None:
        return {"point_coords": new_points, "point_labels": new_labels}
    return {"point_coords": torch.cat([old_point_inputs["point_coords"], new_points], dim=1),
            "point_labels": torch.cat([old_point_inputs["point_labels"], new_labels], dim=1)}
