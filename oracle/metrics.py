"""Measures shared by the tests and the benchmarks: mask agreement and process memory. NumPy only."""

from __future__ import annotations

import resource
from pathlib import Path

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
