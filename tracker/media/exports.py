"""Export files: per-object mask PNGs (zipped), DAVIS-style indexed PNGs (zipped), COCO RLE JSON.

Frames are named by their number in the source video; object folders and COCO categories by
the objects' names.
"""

import io
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Iterable, Mapping, Sequence, Tuple

import numpy as np
from PIL import Image

from .mask_rle import RLEMask, encode
from .palette import indexed_palette

# frame index -> {object id: (H, W) bool mask}
MaskLookup = Callable[[int], Dict[int, np.ndarray]]


def _png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


@dataclass(frozen=True)
class VideoFacts:
    """What the COCO file says about the source video: name, (height, width), fps and when each
    source frame starts ((num_frames,) seconds)."""

    name: str
    size: Tuple[int, int]
    fps: float
    frame_times: Sequence[float]


def file_safe(name: str) -> str:
    """A name as a file or folder name: letters, digits, dots and dashes; others become "_"."""
    return re.sub(r"[^\w.\-]+", "_", name).strip("._") or "object"


def write_mask_pngs(path: Path, frames: Iterable[int], masks_on: MaskLookup, names: Mapping[int, str]) -> Path:
    """A zip of ``<object id>_<name>/<frame:05d>.png`` binary masks (0 / 255)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for frame_idx in frames:
            for obj_id, mask in masks_on(frame_idx).items():
                image = Image.fromarray(mask.astype(np.uint8) * 255, mode="L")
                folder = f"{obj_id}_{file_safe(names.get(obj_id, 'object'))}"
                archive.writestr(f"{folder}/{frame_idx:05d}.png", _png_bytes(image))
    return path


def indexed_mask(masks: Dict[int, np.ndarray], size: Tuple[int, int]) -> np.ndarray:
    """(H, W) uint8 label map: 0 background, else the object id (later ids win overlaps)."""
    labels = np.zeros(size, dtype=np.uint8)
    for obj_id in sorted(masks):
        labels[masks[obj_id]] = obj_id
    return labels


def write_davis_pngs(path: Path, frames: Iterable[int], masks_on: MaskLookup, size: Tuple[int, int]) -> Path:
    """A zip of ``<frame:05d>.png`` palette images, one per frame, pixel value = object id."""
    palette = indexed_palette()
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for frame_idx in frames:
            image = Image.fromarray(indexed_mask(masks_on(frame_idx), size), mode="P")
            image.putpalette(palette)
            archive.writestr(f"{frame_idx:05d}.png", _png_bytes(image))
    return path


def _bbox(mask: np.ndarray) -> list:
    ys, xs = np.nonzero(mask)
    if not len(xs):
        return [0, 0, 0, 0]
    return [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)]


def write_coco_rle(path: Path, frames: Iterable[int], masks_on: MaskLookup, video: VideoFacts,
                   names: Mapping[int, str]) -> Path:
    """COCO-style JSON: one category per object name, one image per source frame (its number
    and time in seconds) and one annotation per object and frame with an uncompressed RLE mask."""
    categories: Dict[str, int] = {}
    for name in (names[obj_id] for obj_id in sorted(names)):
        categories.setdefault(name, len(categories) + 1)
    annotations = []
    for frame_idx in frames:
        for obj_id, mask in sorted(masks_on(frame_idx).items()):
            rle: RLEMask = encode(mask)
            annotations.append(
                {"id": len(annotations) + 1, "image_id": frame_idx, "category_id": categories[names[obj_id]],
                 "object_id": obj_id, "object_name": names[obj_id], "segmentation": rle.to_coco(),
                 "area": rle.area, "bbox": _bbox(mask), "iscrowd": 0}
            )
    height, width = video.size
    images = [{"id": f, "file_name": f"{f:05d}.jpg", "frame_index": f, "timestamp": round(float(video.frame_times[f]), 6),
               "height": height, "width": width} for f in sorted({a["image_id"] for a in annotations})]
    document = {
        "info": {"description": f"SAM 2 masklets of {video.name}", "video": video.name, "fps": video.fps},
        "images": images,
        "categories": [{"id": category_id, "name": name} for name, category_id in categories.items()],
        "annotations": annotations,
    }
    Path(path).write_text(json.dumps(document))
    return path
