"""Run-length encoding of masks: exact round trips and the COCO layout."""

import numpy as np
import pytest

from tracker.media.mask_rle import decode, encode, from_coco


@pytest.mark.parametrize("seed", range(5))
def test_round_trip_of_random_masks(seed):
    mask = np.random.default_rng(seed).random((37, 53)) > 0.6
    rle = encode(mask)
    assert np.array_equal(decode(rle), mask)
    assert rle.area == int(mask.sum())
    assert np.array_equal(decode(from_coco(rle.to_coco())), mask)


def test_coco_layout_is_column_major_and_starts_with_background():
    mask = np.array([[1, 0], [1, 1]], dtype=bool)
    assert encode(mask).to_coco() == {"size": [2, 2], "counts": [0, 2, 1, 1]}
    assert encode(np.zeros((2, 3), bool)).to_coco()["counts"] == [6]


def test_corrupt_counts_are_rejected():
    rle = encode(np.ones((4, 4), bool))
    with pytest.raises(ValueError, match="cover"):
        decode(from_coco({"size": [5, 5], "counts": rle.to_coco()["counts"]}))
    with pytest.raises(ValueError, match="2-D"):
        encode(np.zeros((2, 2, 2)))
