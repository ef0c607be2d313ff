"""Binary masks kept compactly in memory: one bit per pixel, then deflated.

A session keeps every returned mask at video resolution for the whole video, so the size
of one stored mask bounds how memory grows with the video's length. Run lengths are small
for smooth masks but grow with every edge: a speckled mask (a noisy or untrained model) at
720p has ~10^5 runs, 370 KB as 32-bit counts. Packed bits never exceed ``H * W / 8`` bytes
(115 KB at 720p, plus deflate's few bytes of framing), and deflate shrinks a smooth mask to
a few KB.
"""

import zlib
from dataclasses import dataclass
from typing import Tuple

import numpy as np

# Deflate's fastest level: a 720p mask packs in well under a millisecond and smooth masks
# still shrink ~50x; higher levels gain little on bit planes.
COMPRESSION_LEVEL = 1


@dataclass(frozen=True)
class PackedMask:
    """An (H, W) boolean mask as deflated packed bits (row-major)."""

    shape: Tuple[int, int]
    area: int  # number of True pixels
    data: bytes

    @property
    def nbytes(self) -> int:
        return len(self.data)

    def unpack(self) -> np.ndarray:
        """-> (H, W) bool array equal to the packed one."""
        height, width = self.shape
        bits = np.frombuffer(zlib.decompress(self.data), dtype=np.uint8)
        return np.unpackbits(bits, count=height * width).reshape(height, width).view(bool)


def pack(mask: np.ndarray) -> PackedMask:
    """(H, W) bool or 0/1 array -> PackedMask."""
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"expected a 2-D mask, got shape {mask.shape}")
    mask = mask.astype(bool, copy=False)
    data = zlib.compress(np.packbits(mask, axis=None).tobytes(), COMPRESSION_LEVEL)
    return PackedMask((int(mask.shape[0]), int(mask.shape[1])), int(np.count_nonzero(mask)), data)
