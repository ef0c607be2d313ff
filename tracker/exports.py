"""Export files: per-object mask PNGs (zipped), DAVIS-style indexed PNGs (zipped), COCO RLE JSON."""

import io
import json
import zipfile
from pathlib import Path
from typing import Callable, Dict, Iterable, Tuple

import numpy as np
from PIL import Image

from sam2.mask_rle import RLEMask, encode

from .palette import indexed_palette

# frame index -> {object id: (H, W) bool mask}
MaskLookup = Callable[[int], Dict[int, np.ndarray]]


def _png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


def write_mask_pngs(path: Path, frames: Iterable[int], masks_on: MaskLookup) -> Path:
    """A zip of ``<object id>/<frame:05d>.png`` binary masks (0 / 255)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for frame_idx in frames:
            for obj_id, mask in masks_on(frame_idx).items():
                image = Image.fromarray(mask.astype(np.uint8) * 255, mode="L")
                archive.writestr(f"{obj_id}/{frame_idx:05d}.png", _png_bytes(image))
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


def write_coco_rle(path: Path, frames: Iterable[int], masks_on: MaskLookup, video_name: str, size: Tuple[int, int],
                   fps: float) -> Path:
    """COCO-style JSON: one annotation per object and frame with an uncompressed RLE mask."""
    annotations = []
    for frame_idx in frames:
        for obj_id, mask in sorted(masks_on(frame_idx).items()):
            rle: RLEMask = encode(mask)
            ys, xs = np.nonzero(mask)
            bbox = [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)] if len(xs) else [0, 0, 0, 0]
            annotations.append(
                {"id": len(annotations) + 1, "image_id": frame_idx, "category_id": 1, "object_id": obj_id,
                 "segmentation": rle.to_coco(), "area": rle.area, "bbox": bbox, "iscrowd": 0}
            )
    document = {
        "info": {"description": f"SAM 2 masklets of {video_name}", "fps": fps},
        "images": [{"id": f, "file_name": f"{f:05d}.jpg", "height": size[0], "width": size[1]} for f in sorted({a["image_id"] for a in annotations})],
        "categories": [{"id": 1, "name": "object"}],
        "annotations": annotations,
    }
    Path(path).write_text(json.dumps(document))
    return path
