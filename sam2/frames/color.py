"""HDR and wide-gamut video frames to SDR BT.709 RGB.

Conventions (ITU-R BT.2100 and BT.2408): PQ code values are absolute luminance; HLG is shown
on a 1000 cd/m2 display (system gamma 1.2, per channel as zimg does); HDR reference white (203 cd/m2) becomes SDR white.
Highlights above a knee roll off smoothly to the content's peak (mastering display or content
light level metadata when present, else 1000 cd/m2), BT.2020 colours are converted to BT.709
primaries in linear light, and SDR is encoded for a BT.1886 display (gamma 2.4).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Optional

import numpy as np

__all__ = ["REFERENCE_WHITE_NITS", "ColorInfo", "to_sdr_bt709"]

#: HDR reference (graphics) white in cd/m2 (BT.2408); mapped to SDR white.
REFERENCE_WHITE_NITS = 203.0
#: Peak assumed when the file says nothing (BT.2100 HLG reference display; usual PQ masters).
DEFAULT_PEAK_NITS = 1000.0
#: Linear SDR level (relative to white) below which HDR light is passed through unchanged.
KNEE = 0.75
SDR_GAMMA = 2.4

_PQ_M1, _PQ_M2 = 2610 / 16384, 2523 / 4096 * 128
_PQ_C1, _PQ_C2, _PQ_C3 = 3424 / 4096, 2413 / 4096 * 32, 2392 / 4096 * 32
_HLG_A = 0.17883277
_HLG_B = 1 - 4 * _HLG_A
_HLG_C = 0.5 - _HLG_A * np.log(4 * _HLG_A)
#: (3, 3) right-multiplier: linear BT.2020 RGB rows -> linear BT.709 RGB rows (BT.2087).
_BT2020_TO_BT709 = np.ascontiguousarray(
    np.array([[1.6605, -0.5876, -0.0728], [-0.1246, 1.1329, -0.0083], [-0.0182, -0.1006, 1.1187]]).T,
    dtype=np.float32,
)


@dataclass(frozen=True)
class ColorInfo:
    """How a stream's RGB is encoded: ``transfer`` is "PQ", "HLG" or "SDR"; ``bt2020`` tells
    BT.2020 primaries; ``peak_nits`` is the brightest light the content holds (HDR only)."""

    transfer: str
    bt2020: bool
    peak_nits: float = DEFAULT_PEAK_NITS

    @property
    def hdr(self) -> Optional[str]:
        """"PQ" or "HLG" when the frames are tone-mapped, else None."""
        return self.transfer if self.transfer in ("PQ", "HLG") else None


def _pq_to_nits(e: np.ndarray) -> np.ndarray:
    p = np.power(np.clip(e, 0.0, 1.0), 1.0 / _PQ_M2)
    return 10000.0 * np.power(np.maximum(p - _PQ_C1, 0.0) / (_PQ_C2 - _PQ_C3 * p), 1.0 / _PQ_M1)


def _hlg_to_scene(e: np.ndarray) -> np.ndarray:
    e = np.clip(e, 0.0, 1.0)
    with np.errstate(invalid="ignore", over="ignore"):
        return np.where(e <= 0.5, e * e / 3.0, (np.exp((e - _HLG_C) / _HLG_A) + _HLG_B) / 12.0)


@lru_cache(maxsize=4)
def _decode_table(transfer: str) -> np.ndarray:
    """(65536,) float32: 16-bit code value -> display light relative to SDR white. HLG gets
    the BT.2100 OOTF of a 1000 cd/m2 display (gamma 1.2) per channel, as zimg (ffmpeg's
    zscale) applies it, rather than on luminance."""
    e = np.arange(65536, dtype=np.float64) / 65535.0
    if transfer == "PQ":
        return (_pq_to_nits(e) / REFERENCE_WHITE_NITS).astype(np.float32)
    if transfer == "HLG":
        display = DEFAULT_PEAK_NITS * np.power(_hlg_to_scene(e), 1.2)
        return (display / REFERENCE_WHITE_NITS).astype(np.float32)
    return np.power(e, SDR_GAMMA).astype(np.float32)


@lru_cache(maxsize=1)
def _encode_table() -> np.ndarray:
    """(65536,) uint8: sqrt(linear) * 65535 -> BT.1886 8-bit code (fine steps near black)."""
    root = np.arange(65536, dtype=np.float64) / 65535.0
    return np.rint(255.0 * np.power(root * root, 1.0 / SDR_GAMMA)).astype(np.uint8)


def _apply(pixels: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """(H, W, 3) @ (3, K) -> (H, W, K) without BLAS threads (they stall on a busy machine)."""
    return np.einsum("hwc,ck->hwk", pixels, matrix)


def _roll_off(x: np.ndarray, peak: float) -> np.ndarray:
    """Linear light (relative to SDR white) -> [0, 1]: identity below ``KNEE``, then an
    extended-Reinhard shoulder reaching 1 at ``peak`` with slope 1 at the knee."""
    if peak <= 1.0:
        return np.minimum(x, 1.0)
    room = 1.0 - KNEE
    span = (peak - KNEE) / room
    t = np.maximum(x - KNEE, 0.0) / room
    shoulder = KNEE + room * np.minimum(t * (1.0 + t / (span * span)) / (1.0 + t), 1.0)
    return np.where(x <= KNEE, x, shoulder)


def _tone_map(linear: np.ndarray, peak: float) -> np.ndarray:
    """(H, W, 3) linear BT.709 light -> same in [0, 1], scaled per pixel by its brightest
    channel so hues are kept."""
    channels = linear.reshape(-1, 3)
    brightest = np.maximum(np.maximum(channels[:, 0], channels[:, 1]), channels[:, 2])
    brightest = np.maximum(brightest, 1e-6).reshape(*linear.shape[:-1], 1)
    return linear * (_roll_off(brightest, peak) / brightest).astype(np.float32)


def to_sdr_bt709(coded: np.ndarray, info: ColorInfo) -> np.ndarray:
    """(H, W, 3) uint16 non-linear R'G'B' (full 16-bit range, as coded) -> (H, W, 3) uint8
    SDR BT.709 R'G'B'."""
    linear = _decode_table(info.transfer)[coded]
    if info.bt2020:
        linear = np.maximum(_apply(linear, _BT2020_TO_BT709), 0.0)
    if info.hdr:
        linear = _tone_map(linear, info.peak_nits / REFERENCE_WHITE_NITS)
    root = np.sqrt(np.clip(linear, 0.0, 1.0, out=linear), out=linear)
    return _encode_table()[(root * 65535.0 + 0.5).astype(np.uint16)]
