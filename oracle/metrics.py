"""Measures shared by the tests and the benchmarks: mask agreement and process memory. NumPy only."""

from __future__ import annotations

import ctypes
import resource
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two boolean masks of one shape; 1.0 when both are empty (they agree)."""
    union = np.logical_or(a, b).sum()
    if union == 0:
        return 1.0
    return float(np.logical_and(a, b).sum() / union)


def min_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Lowest IoU over the leading indices of two (..., H, W) boolean mask stacks (e.g. frames
    and objects); pairs of empty masks count 1.0."""
    inter = np.logical_and(a, b).sum(axis=(-2, -1))
    union = np.logical_or(a, b).sum(axis=(-2, -1))
    return float(np.where(union == 0, 1.0, inter / np.maximum(union, 1)).min())


def resident_mb(pid: int | str = "self") -> float:
    """Current resident set of a process (default: this one) in MiB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def peak_resident_mb() -> float:
    """Peak resident set of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class _MallInfo2(ctypes.Structure):
    # glibc >= 2.33 <malloc.h>, every field a size_t.
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]


@dataclass(frozen=True)
class HeapUse:
    """What glibc's malloc holds, in MiB: telling live data from a fragmented heap."""

    in_use_mb: float  # blocks handed out and not yet freed, from the arenas
    free_mb: float  # freed blocks the arenas keep (resident once touched, until trimmed)
    mapped_mb: float  # large blocks served by their own mmap (returned on free)


def glibc_heap() -> Optional[HeapUse]:
    """This process's malloc statistics (``mallinfo2``), or None without glibc 2.33+."""
    try:
        mallinfo2 = ctypes.CDLL("libc.so.6").mallinfo2
    except (OSError, AttributeError):
        return None
    mallinfo2.restype = _MallInfo2
    info = mallinfo2()
    return HeapUse(info.uordblks / 2**20, info.fordblks / 2**20, info.hblkhd / 2**20)
