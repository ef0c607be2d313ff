"""Behaviour of SAM2ImagePredictor on the tiny random-weights model."""

import numpy as np
import pytest
from PIL import Image

from conftest import synthetic_frames
from sam2.sam2_image_predictor import SAM2ImagePredictor


@pytest.fixture()
def predictor(tiny_predictor):
    image_predictor = SAM2ImagePredictor(tiny_predictor)
    image_predictor.set_image(synthetic_frames()[0])
    return image_predictor


def test_multimask_output_shapes(predictor):
    masks, ious, low_res = predictor.predict(point_coords=np.array([[20, 20]]), point_labels=np.array([1]))
    assert masks.shape == (3, 48, 64) and set(np.unique(masks)) <= {0.0, 1.0}
    assert ious.shape == (3,) and np.all((ious >= 0) & (ious <= 1))
    assert low_res.shape == (3, 32, 32) and np.abs(low_res).max() <= 32


def test_single_mask_with_box_points_and_mask_input(predictor):
    _, _, low_res = predictor.predict(point_coords=np.array([[20, 20]]), point_labels=np.array([1]))
    masks, ious, _ = predictor.predict(
        point_coords=np.array([[20, 20], [60, 40]]), point_labels=np.array([1, 0]),
        box=np.array([5, 5, 40, 30]), mask_input=low_res[:1], multimask_output=False, return_logits=True,
    )
    assert masks.shape == (1, 48, 64) and masks.dtype == np.float32 and ious.shape == (1,)
    assert (masks > 0).any() and (masks < 0).any()


def test_several_boxes_give_a_batch(predictor):
    masks, ious, _ = predictor.predict(box=np.array([[5, 5, 40, 30], [10, 10, 60, 45]]), multimask_output=False)
    assert masks.shape == (2, 1, 48, 64) and ious.shape == (2, 1)


def test_pil_image_and_batch_api(tiny_predictor):
    predictor = SAM2ImagePredictor(tiny_predictor)
    frames = synthetic_frames(2)
    predictor.set_image(Image.fromarray(frames[0]).convert("RGBA"))
    assert predictor._orig_hw == [(48, 64)]
    predictor.set_image_batch(frames)
    masks, ious, low_res = predictor.predict_batch(
        [np.array([[20, 20]])] * 2, [np.array([1])] * 2, multimask_output=False
    )
    assert len(masks) == 2 and masks[0].shape == (1, 48, 64) and low_res[1].shape == (1, 32, 32)
    assert predictor.get_image_embedding().shape == (2, 32, 8, 8)


def test_prediction_before_an_image_is_set_raises(tiny_predictor):
    with pytest.raises(RuntimeError, match="set_image"):
        SAM2ImagePredictor(tiny_predictor).predict(point_coords=np.array([[1, 1]]), point_labels=np.array([1]))


@pytest.mark.parametrize("bad", [np.zeros((4, 4)), np.zeros((0, 5, 3), dtype=np.uint8), "not an image"])
def test_bad_images_raise(tiny_predictor, bad):
    with pytest.raises(ValueError, match="image"):
        SAM2ImagePredictor(tiny_predictor).set_image(bad)


def test_hole_filling_removes_small_holes(predictor):
    _, _, low_res = predictor.predict(point_coords=np.array([[20, 20]]), point_labels=np.array([1]), multimask_output=False)
    logits = np.full((1, 32, 32), 5.0, dtype=np.float32)
    logits[0, 10, 10] = -5.0
    import torch

    predictor.max_hole_area = 4
    cleaned = predictor._clean_masks(torch.from_numpy(logits)[None])
    assert float(cleaned[0, 0, 10, 10]) > 0
