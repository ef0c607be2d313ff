"""Mask images (uploaded files, arrays, gr.ImageEditor values) as bool masks for add_new_mask."""

import gradio as gr
import numpy as np
import PIL.Image
import pytest
from gradio.components.image_editor import EditorData
from gradio.data_classes import FileData

from tracker.errors import UserError
from tracker.media.mask_image import EMPTY, FULL, NOT_PAINTED, mask_from_editor, mask_from_image

SIZE = (48, 64)  # the video's (height, width)


def _object(size=SIZE, top=10, left=20, height=15, width=12) -> np.ndarray:
    mask = np.zeros(size, bool)
    mask[top : top + height, left : left + width] = True
    return mask


def _save(tmp_path, name: str, image: PIL.Image.Image) -> str:
    path = tmp_path / name
    image.save(path)
    return str(path)


def test_black_and_white_png_gives_the_exact_mask(tmp_path):
    mask = _object()
    path = _save(tmp_path, "mask.png", PIL.Image.fromarray(mask.astype(np.uint8) * 255))
    result = mask_from_image(path, SIZE)
    assert result.dtype == bool and np.array_equal(result, mask)


def test_opaque_rgba_png_uses_the_colour(tmp_path):
    mask = _object()
    rgba = np.dstack([np.repeat(mask[..., None] * 255, 3, axis=2), np.full(SIZE, 255)]).astype(np.uint8)
    path = _save(tmp_path, "mask.png", PIL.Image.fromarray(rgba, "RGBA"))
    assert np.array_equal(mask_from_image(path, SIZE), mask)


def test_palette_png_puts_every_nonzero_index_in_the_mask(tmp_path):
    indices = np.zeros(SIZE, np.uint8)
    indices[5:15, 5:15] = 1
    indices[30:40, 40:60] = 2
    image = PIL.Image.fromarray(indices, "P")
    image.putpalette([0, 0, 0, 128, 0, 0, 0, 128, 0])  # DAVIS colours: black, dark red, dark green
    assert np.array_equal(mask_from_image(_save(tmp_path, "00000.png", image), SIZE), indices > 0)


def test_painted_rgba_layer_is_its_alpha():
    mask = _object()
    layer = np.zeros((*SIZE, 4), np.uint8)
    layer[mask] = (204, 50, 50, 255)
    layer[0, 0, 3] = 40  # a faint anti-aliased stroke edge is painted too
    expected = mask.copy()
    expected[0, 0] = True
    assert np.array_equal(mask_from_image(layer, SIZE), expected)


@pytest.mark.parametrize(
    "pixels",
    [
        _object(),
        _object().astype(np.uint8),  # a 0/1 mask
        _object().astype(np.float32) * 0.9,
        _object().astype(np.uint16) * 65535,
        np.dstack([_object() * 200, np.zeros(SIZE), np.zeros(SIZE)]).astype(np.uint8),  # red on black
        np.where(_object(), 240, 12).astype(np.uint8),  # JPEG-like noise
    ],
    ids=["bool", "uint8 0/1", "float", "uint16", "red on black", "noisy grey"],
)
def test_array_rules(pixels):
    assert np.array_equal(mask_from_image(pixels, SIZE), _object())


def test_smaller_mask_of_the_same_aspect_is_resized_nearest(tmp_path):
    small = _object((24, 32), top=5, left=10, height=7, width=6)
    path = _save(tmp_path, "small.png", PIL.Image.fromarray(small.astype(np.uint8) * 255))
    expected = np.repeat(np.repeat(small, 2, axis=0), 2, axis=1)
    assert np.array_equal(mask_from_image(path, SIZE), expected)


def test_mask_of_another_aspect_is_refused_with_both_sizes():
    with pytest.raises(UserError, match="40×40 pixels but the video is 64×48"):
        mask_from_image(_object((40, 40)), SIZE)


def test_empty_and_full_masks_are_refused():
    with pytest.raises(UserError) as empty:
        mask_from_image(np.zeros((*SIZE, 3), np.uint8), SIZE)
    assert str(empty.value) == EMPTY
    with pytest.raises(UserError) as full:
        mask_from_image(np.full(SIZE, 255, np.uint8), SIZE)
    assert str(full.value) == FULL


def test_files_that_are_not_images_are_refused(tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(UserError, match="notes.png is not an image"):
        mask_from_image(text, SIZE)
    with pytest.raises(UserError, match="missing.png is not an image"):
        mask_from_image(tmp_path / "missing.png", SIZE)
    with pytest.raises(UserError, match="not an image"):
        mask_from_image(np.zeros((*SIZE, 2), np.uint8), SIZE)


def _editor_value(tmp_path, layers, image_type: str = "numpy"):
    """The value a handler gets from gr.ImageEditor: its preprocess of the files the page uploads."""
    frame = np.random.default_rng(0).integers(0, 256, (*SIZE, 3), dtype=np.uint8)
    composite = np.dstack([frame, np.full(SIZE, 255, np.uint8)])
    for layer in layers:
        composite[layer[..., 3] > 0] = layer[layer[..., 3] > 0]
    payload = EditorData(
        background=FileData(path=_save(tmp_path, "background.png", PIL.Image.fromarray(frame))),
        layers=[
            FileData(path=_save(tmp_path, f"layer_{i}.png", PIL.Image.fromarray(layer, "RGBA")))
            for i, layer in enumerate(layers)
        ],
        composite=FileData(path=_save(tmp_path, "composite.png", PIL.Image.fromarray(composite, "RGBA"))),
    )
    return gr.ImageEditor(type=image_type, render=False).preprocess(payload)


def _stroke(mask: np.ndarray) -> np.ndarray:
    layer = np.zeros((*mask.shape, 4), np.uint8)
    layer[mask] = (50, 112, 204, 255)
    return layer


@pytest.mark.parametrize("image_type", ["numpy", "pil", "filepath"])
def test_editor_mask_is_the_union_of_the_painted_layers(tmp_path, image_type):
    first, second = _object(top=5, left=5, height=10, width=10), _object(top=20, left=30, height=20, width=25)
    value = _editor_value(tmp_path, [_stroke(first), _stroke(second)], image_type)
    if image_type == "numpy":
        assert value["layers"][0].shape == (*SIZE, 4) and value["background"].shape == (*SIZE, 4)
    assert np.array_equal(mask_from_editor(value, SIZE), first | second)


def test_editor_without_painting_is_refused(tmp_path):
    unpainted = [
        None,
        gr.ImageEditor(render=False).preprocess(EditorData()),  # what the page sends for an empty editor
        _editor_value(tmp_path, [np.zeros((*SIZE, 4), np.uint8)]),  # a frame shown, its blank layer untouched
    ]
    for value in unpainted:
        with pytest.raises(UserError) as error:
            mask_from_editor(value, SIZE)
        assert str(error.value) == NOT_PAINTED


def test_editor_canvas_of_another_size_is_scaled_or_refused(tmp_path):
    painted = _object((24, 32), top=5, left=10, height=7, width=6)
    value = {"background": None, "layers": [_stroke(painted)], "composite": None}
    assert np.array_equal(mask_from_editor(value, SIZE), np.repeat(np.repeat(painted, 2, axis=0), 2, axis=1))
    with pytest.raises(UserError, match="32×24 pixels but the video is 64×64"):
        mask_from_editor(value, (64, 64))


def test_editor_layers_without_alpha_are_a_programming_error():
    with pytest.raises(ValueError, match="image_mode='RGBA'"):
        mask_from_editor({"background": None, "layers": [np.zeros((*SIZE, 3), np.uint8)], "composite": None}, SIZE)
