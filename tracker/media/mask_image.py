"""A user's mask image (an uploaded file, or strokes painted in a gr.ImageEditor) as a
(height, width) bool mask for the predictor's ``add_new_mask``.

Which pixels of an image are in the mask:

- a palette ("P") image, such as a DAVIS annotation: index > 0;
- an image with an alpha channel that is not fully opaque (a painted layer, a cut-out on a
  transparent background): alpha > 0;
- otherwise, by the brightest channel (grey level for a greyscale image): above half of the
  full scale, so white (and any light colour) is in, black is out, and JPEG noise does not
  matter. The full scale is 255 for integer images (65535 for 16-bit ones) and 1 for float
  images; a bool image is the mask itself, and an integer image whose values are all 0 or 1
  is a 0/1 mask (nonzero is in).

A mask of another size than the video is resized (nearest neighbour) when its aspect ratio
is the video's within 1%.
"""

from pathlib import Path
from typing import List, Mapping, Optional, Tuple, Union

import numpy as np
import PIL.Image

from ..errors import UserError

MaskImage = Union[str, Path, np.ndarray, PIL.Image.Image]

EMPTY = "The mask is empty: paint or upload a mask with the object in white."
NOT_PAINTED = "Paint over the object first (or upload a mask image)."
FULL = "The mask covers the whole frame: paint or upload a mask with only the object in white."
ASPECT_TOLERANCE = 0.01
_KEPT_MODES = ("1", "L", "I;16", "I", "F", "RGB", "RGBA")


def mask_from_image(image: MaskImage, size: Tuple[int, int]) -> np.ndarray:
    """The (height, width) bool mask of an uploaded mask image, by the rules in the module doc.

    ``image`` is a file path, a PIL image or an array (H, W), (H, W, 3) or (H, W, 4) of a bool,
    integer or float dtype; ``size`` is the video's (height, width). Raises UserError for a file
    that is not a readable image, a size the video's cannot be scaled to, an empty mask or one
    that covers the whole frame.
    """
    mask = _fit(_mask_of(_load(image)), size)
    _check_coverage(mask, EMPTY)
    return mask


def mask_from_editor(value: Optional[Mapping], size: Tuple[int, int]) -> np.ndarray:
    """The (height, width) bool mask painted in a gr.ImageEditor: the union of its layers' alpha > 0.

    ``value`` is the editor's value, a dict {"background", "layers", "composite"} (Gradio's
    ``EditorValue``) or None; each layer is an image of the canvas' size with alpha where the
    user painted, as a (H, W, 4) array (type="numpy", the default), a PIL image or a file path.
    The editor needs an image mode with alpha (image_mode="RGBA", the default). The background
    and the composite are ignored: a mask image is uploaded with ``mask_from_image``, not into
    the editor. Raises UserError when nothing is painted, for a canvas the video's size cannot
    be scaled to, and for a mask that covers the whole frame.
    """
    layers: List[MaskImage] = list(value.get("layers") or []) if value else []
    painted = [_painted(_load(layer)) for layer in layers]
    if not any(layer.any() for layer in painted):
        raise UserError(NOT_PAINTED)
    mask = np.logical_or.reduce([_fit(layer, size) for layer in painted])
    _check_coverage(mask, NOT_PAINTED)
    return mask


def _load(image: MaskImage) -> np.ndarray:
    """The pixels of ``image``: (H, W), (H, W, 3) or (H, W, 4); a palette image as its (H, W) index > 0."""
    if isinstance(image, np.ndarray):
        return _checked_pixels(image)
    if isinstance(image, PIL.Image.Image):
        return _pixels_of(image)
    name = Path(image).name
    try:
        with PIL.Image.open(image) as im:
            im.load()
            return _pixels_of(im)
    except (OSError, ValueError, PIL.Image.DecompressionBombError) as e:
        raise UserError(f"{name} is not an image that can be read: upload the mask as a PNG image.") from e


def _pixels_of(im: PIL.Image.Image) -> np.ndarray:
    """(H, W) grey, (H, W, 3) RGB or (H, W, 4) RGBA pixels of ``im``; (H, W) bool for a palette image."""
    has_alpha = "A" in im.getbands() or "transparency" in im.info
    if im.mode == "P" and not has_alpha:
        return np.asarray(im) > 0
    if has_alpha and im.mode != "RGBA":
        im = im.convert("RGBA")
    elif im.mode not in _KEPT_MODES:
        im = im.convert("RGB")
    return np.asarray(im)


def _checked_pixels(pixels: np.ndarray) -> np.ndarray:
    """``pixels`` when it is a non-empty (H, W), (H, W, 3) or (H, W, 4) bool, integer or float array."""
    shape_ok = pixels.ndim == 2 or (pixels.ndim == 3 and pixels.shape[2] in (3, 4))
    if not (shape_ok and pixels.dtype.kind in "biuf" and pixels.size):
        raise UserError(
            f"The mask is not an image: expected (height, width), (height, width, 3) or "
            f"(height, width, 4) pixels, got an array of shape {pixels.shape} and type {pixels.dtype}."
        )
    return pixels


def _full_scale(dtype: np.dtype) -> float:
    """The value of white (and of full opacity) in an image of ``dtype``."""
    if dtype == np.bool_ or np.issubdtype(dtype, np.floating):
        return 1.0
    return 65535.0 if dtype == np.uint16 else 255.0


def _mask_of(pixels: np.ndarray) -> np.ndarray:
    """(H, W[, 3 | 4]) pixels -> the (H, W) bool mask, by the rules in the module doc."""
    full = _full_scale(pixels.dtype)
    if pixels.ndim == 3 and pixels.shape[2] == 4:
        alpha = pixels[..., 3]
        if (alpha < full).any():
            return alpha > 0
        pixels = pixels[..., :3]
    level = pixels if pixels.ndim == 2 else pixels.max(axis=2)
    if level.dtype == np.bool_:
        return level.copy()
    if np.issubdtype(level.dtype, np.integer) and level.min() >= 0 and level.max() <= 1:
        return level > 0
    return level > full / 2


def _painted(layer: np.ndarray) -> np.ndarray:
    """(H, W, 4) editor layer -> (H, W) bool, True where painted (alpha > 0)."""
    if layer.ndim != 3 or layer.shape[2] != 4:
        raise ValueError(
            f"an editor layer must have an alpha channel (H, W, 4), got shape {layer.shape}: "
            "build the gr.ImageEditor with image_mode='RGBA'"
        )
    return layer[..., 3] > 0


def _fit(mask: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """(h, w) bool mask -> (height, width), nearest neighbour; UserError unless the aspect ratios agree within 1%."""
    height, width = size
    mask_height, mask_width = mask.shape
    if (mask_height, mask_width) == (height, width):
        return mask
    if abs((mask_width / mask_height) / (width / height) - 1) > ASPECT_TOLERANCE:
        raise UserError(
            f"The mask is {mask_width}×{mask_height} pixels but the video is {width}×{height}: "
            "use a mask of the video's size (or of the same aspect ratio)."
        )
    rows = np.minimum(((np.arange(height) + 0.5) * mask_height / height).astype(np.intp), mask_height - 1)
    cols = np.minimum(((np.arange(width) + 0.5) * mask_width / width).astype(np.intp), mask_width - 1)
    return mask[rows[:, None], cols]


def _check_coverage(mask: np.ndarray, empty_message: str) -> None:
    """UserError(``empty_message``) for an empty mask, and one for a mask that covers the whole frame."""
    if not mask.any():
        raise UserError(empty_message)
    if mask.all():
        raise UserError(FULL)
