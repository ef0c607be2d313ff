"""Hands memory freed by Python and the libraries back to the operating system (glibc only)."""

import ctypes
import ctypes.util

try:
    _LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    _TRIM = _LIBC.malloc_trim
except (OSError, AttributeError):  # not glibc: nothing to do
    _TRIM = None


def return_free_memory() -> None:
    """Ask the allocator to release free pages of every arena (a closed session's frames,
    features and decoder buffers), so the server's resident memory goes back down."""
    if _TRIM is not None:
        _TRIM(0)
