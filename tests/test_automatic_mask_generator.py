"""The automatic mask generator: its grids, crops, RLE and selection on known inputs, and the
records it returns (parity with the reference: tests/test_parity.py, case automatic_masks)."""

import numpy as np
import pytest
import torch

from sam2.automask import rle
from sam2.automask.layout import image_crops, layer_point_grids, point_grid
from sam2.automask.selection import cut_by_crop_edge, mask_boxes, place_in_image, stability_score
from sam2.automask.settings import MaskGeneratorSettings
from sam2.automatic_mask_generator import SAM2AutomaticMaskGenerator
from sam2.build_sam import build_sam2


def test_grids_are_cell_centres_x_first_and_thin_out_per_crop_layer():
    assert np.allclose(point_grid(2), [[0.25, 0.25], [0.75, 0.25], [0.25, 0.75], [0.75, 0.75]])
    assert [len(grid) for grid in layer_point_grids(8, 2, 2)] == [64, 16, 4]


def test_crops_tile_each_layer_with_overlap():
    crops = image_crops(100, 200, 1, 512 / 1500)
    assert [(c.box, c.layer) for c in crops] == [
        ((0, 0, 200, 100), 0),
        ((0, 0, 117, 67), 1), ((0, 33, 117, 100), 1), ((83, 0, 200, 67), 1), ((83, 33, 200, 100), 1),
    ]


def test_rle_runs_over_columns_starting_with_zeros():
    mask = np.array([[0, 1, 1], [0, 0, 1]], dtype=bool)
    encoded = rle.encode(torch.from_numpy(mask)[None])[0]
    assert encoded == {"size": [2, 3], "counts": [2, 1, 1, 2]} and rle.area(encoded) == 3
    full = rle.encode(torch.ones(1, 2, 2, dtype=torch.bool))[0]
    assert full["counts"] == [0, 4]
    masks = torch.from_numpy(np.random.default_rng(0).random((4, 7, 5)) > 0.5)
    masks[0] = False
    for original, encoded in zip(masks, rle.encode(masks)):
        assert np.array_equal(rle.decode(encoded), original.numpy())


def test_boxes_stability_and_crop_edges():
    masks = torch.zeros(2, 10, 12, dtype=torch.bool)
    masks[1, 2:5, 3:9] = True
    assert mask_boxes(masks).tolist() == [[0, 0, 0, 0], [3, 2, 8, 4]]
    logits = torch.full((1, 4, 4), -5.0)
    logits[0, :2, :2], logits[0, 2, :2] = 5.0, 0.5  # 4 pixels above 1, 6 above -1
    assert stability_score(logits, 0.0, 1.0).tolist() == pytest.approx([4 / 6])
    # crop (50, 0, 100, 60) of a 100 x 60 image: a box on its left edge (inside the image) is
    # cut by the crop; one on its right edge is on the image's edge and stays.
    boxes = torch.tensor([[2, 25, 20, 35], [30, 25, 49, 35], [25, 25, 35, 35]])
    assert cut_by_crop_edge(boxes, (50, 0, 100, 60), (0, 0, 100, 60)).tolist() == [True, False, False]
    placed = place_in_image(masks[1:, :, :], (50, 0, 62, 10), 60, 100)
    assert placed.shape == (1, 60, 100) and placed[0, 2:5, 53:59].all() and placed.sum() == 18


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    from sam2.assembly.random_weights import save_random_checkpoint

    checkpoint = save_random_checkpoint("test_tiny", str(tmp_path_factory.mktemp("amg") / "tiny.pt"))
    return build_sam2("test_tiny", checkpoint, device="cpu")


def test_records_describe_their_masks(tiny_model):
    image = np.random.default_rng(1).integers(0, 255, (60, 80, 3), dtype=np.uint8)
    image[10:40, 20:50] = (240, 200, 30)
    generator = SAM2AutomaticMaskGenerator(tiny_model, points_per_side=6, pred_iou_thresh=0.0,
                                           stability_score_thresh=0.0, crop_n_layers=1, box_nms_thresh=0.95)
    records = generator.generate(image)
    assert records and {len(r) for r in records} == {7}
    crop_boxes = {tuple(c.box) for c in image_crops(60, 80, 1, 512 / 1500)}
    for record in records:
        mask = record["segmentation"]
        assert mask.shape == (60, 80) and mask.dtype == bool and record["area"] == int(mask.sum())
        ys, xs = np.nonzero(mask)
        assert record["bbox"] == [xs.min(), ys.min(), xs.max() - xs.min(), ys.max() - ys.min()]
        x, y, w, h = record["crop_box"]
        assert (x, y, x + w, y + h) in crop_boxes
        assert x <= record["point_coords"][0][0] <= x + w and y <= record["point_coords"][0][1] <= y + h
        assert isinstance(record["predicted_iou"], float) and 0 <= record["stability_score"] <= 1


def test_output_modes_and_bad_settings(tiny_model):
    image = np.random.default_rng(2).integers(0, 255, (40, 40, 3), dtype=np.uint8)
    settings = dict(points_per_side=3, pred_iou_thresh=0.0, stability_score_thresh=0.0)
    binary = SAM2AutomaticMaskGenerator(tiny_model, **settings).generate(image)
    runs = SAM2AutomaticMaskGenerator(tiny_model, output_mode="uncompressed_rle", **settings).generate(image)
    assert [rle.decode(r["segmentation"]).tolist() for r in runs] == [r["segmentation"].tolist() for r in binary]
    with pytest.raises(ValueError, match="exactly one"):
        SAM2AutomaticMaskGenerator(tiny_model, points_per_side=None)
    with pytest.raises(ValueError, match="output_mode"):
        SAM2AutomaticMaskGenerator(tiny_model, output_mode="png")


def test_coco_output_says_what_to_install_when_pycocotools_is_missing(tiny_model, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "pycocotools", None)  # import fails
    with pytest.raises(ImportError, match="pip install pycocotools"):
        SAM2AutomaticMaskGenerator(tiny_model, output_mode="coco_rle")


def test_coco_output_is_pycocotools_compressed_rle(tiny_model):
    coco_mask = pytest.importorskip("pycocotools.mask")
    image = np.random.default_rng(3).integers(0, 255, (40, 50, 3), dtype=np.uint8)
    settings = dict(points_per_side=3, pred_iou_thresh=0.0, stability_score_thresh=0.0)
    binary = SAM2AutomaticMaskGenerator(tiny_model, **settings).generate(image)
    coco = SAM2AutomaticMaskGenerator(tiny_model, output_mode="coco_rle", **settings).generate(image)
    assert coco and all(isinstance(r["segmentation"]["counts"], str) for r in coco)
    for compressed, plain in zip(coco, binary):
        segmentation = compressed["segmentation"]
        decoded = coco_mask.decode({**segmentation, "counts": segmentation["counts"].encode()})
        assert np.array_equal(decoded.astype(bool), plain["segmentation"])


def test_settings_are_one_typed_object_read_and_written_by_the_official_names(tiny_model):
    generator = SAM2AutomaticMaskGenerator(tiny_model, 4, 16, pred_iou_thresh=0.5, unknown_option=1)
    assert isinstance(generator.settings, MaskGeneratorSettings)
    assert (generator.settings.points_per_side, generator.points_per_batch, generator.pred_iou_thresh) == (4, 16, 0.5)
    assert generator.box_nms_thresh == 0.7 and generator.output_mode == "binary_mask"
    assert len(generator.point_grids) == 1 and generator.point_grids[0].shape == (16, 2), "the grids in use"
    generator.stability_score_thresh = 0.0
    assert generator.settings.stability_score_thresh == 0.0
    with pytest.raises(AttributeError):
        generator.no_such_setting
