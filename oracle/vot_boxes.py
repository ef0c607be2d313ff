"""DAM4SAM's distractor test reads masks through vot-toolkit (a mask's box, the overlap of two
boxes) and OpenCV (a mask's largest part). Run under the DAM4SAM oracle, this records what
those give on a set of masks (random blobs and edge cases, made by :func:`masks` from a seed),
for ours to be checked against (tests/test_tracker_parity.py):

    python vot_boxes.py --out boxes.npz        # PYTHONPATH: the dam4sam oracle, then this checkout
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

SEED = 0
HEIGHT, WIDTH = 40, 50


def masks(seed: int = SEED, count: int = 40) -> list:
    """(H, W) bool masks: unions of random rectangles, then an empty mask, one pixel, one row
    and one column, and two parts of equal area."""
    rng = np.random.RandomState(seed)
    made = []
    for _ in range(count):
        mask = np.zeros((HEIGHT, WIDTH), bool)
        for _ in range(rng.randint(1, 4)):
            y, x = rng.randint(0, HEIGHT - 2), rng.randint(0, WIDTH - 2)
            mask[y : y + rng.randint(1, 15), x : x + rng.randint(1, 15)] = True
        made.append(mask)
    edge = [np.zeros((HEIGHT, WIDTH), bool) for _ in range(5)]
    edge[1][7, 9] = True
    edge[2][12, 3:30] = True
    edge[3][2:33, 41] = True
    edge[4][2:6, 2:6] = edge[4][20:24, 30:34] = True
    return made + edge


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    from utils.utils import keep_largest_component
    from vot.region import RegionType
    from vot.region.raster import calculate_overlaps
    from vot.region.shapes import Mask

    made = masks()
    boxes = [Mask(m.astype(np.uint8)).convert(RegionType.RECTANGLE) for m in made]
    corners = np.array([[b.x, b.y, b.width, b.height] for b in boxes], dtype=np.float64)
    overlaps = np.array([calculate_overlaps([a], [b])[0] for a, b in zip(boxes, boxes[1:] + boxes[:1])])
    parts = np.stack([keep_largest_component(m.astype(np.uint8)).astype(bool) if m.any() else m for m in made])
    np.savez_compressed(args.out, boxes=corners, overlaps=overlaps, largest_parts=np.packbits(parts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
