"""Packed session masks: exact round trips, and a size bounded by one bit per pixel."""

import numpy as np
import pytest

from tracker.model.packed_mask import pack


def _ellipse(height: int, width: int) -> np.ndarray:
    rows, cols = np.mgrid[:height, :width]
    return ((rows - height / 2) / (height / 3)) ** 2 + ((cols - width / 2) / (width / 4)) ** 2 < 1


@pytest.mark.parametrize("shape", [(37, 53), (1, 1), (5, 8), (720, 1280)])
@pytest.mark.parametrize("kind", ["noise", "ellipse", "empty", "full"])
def test_round_trip_is_exact_and_counts_the_area(shape, kind):
    masks = {
        "noise": lambda: np.random.default_rng(0).random(shape) > 0.6,
        "ellipse": lambda: _ellipse(*shape),
        "empty": lambda: np.zeros(shape, bool),
        "full": lambda: np.ones(shape, bool),
    }
    mask = masks[kind]()
    packed = pack(mask)
    unpacked = packed.unpack()
    assert unpacked.dtype == bool and np.array_equal(unpacked, mask)
    assert packed.shape == shape and packed.area == int(mask.sum())


def test_a_speckled_720p_mask_costs_at_most_a_bit_per_pixel_and_a_smooth_one_far_less():
    speckled = np.random.default_rng(1).random((720, 1280)) > 0.5
    assert pack(speckled).nbytes <= 720 * 1280 // 8 + 64
    assert pack(_ellipse(720, 1280)).nbytes < 8_000


def test_zero_one_integers_are_accepted_and_other_ranks_rejected():
    assert np.array_equal(pack(np.array([[0, 1], [1, 0]], np.uint8)).unpack(), [[False, True], [True, False]])
    with pytest.raises(ValueError, match="2-D"):
        pack(np.zeros((2, 2, 2), bool))
