"""Opt-in tuning of the C allocator for CPU tracking (glibc only; a no-op elsewhere).

glibc serves every block above a dynamic threshold (a few MB up to 32 MB) with its own
``mmap`` and unmaps it on free. A tracked frame allocates and frees hundreds of such
blocks (activations of the 256x256 stage, attention scores, MLP hidden layers), so each
one is page-faulted in and zeroed by the kernel again on every frame. On a 2-core machine
that is 15-20% of a frame.

Importing ``sam2`` or building a model changes nothing here: the malloc settings belong to
the whole process, so only its owner (the app, a benchmark) opts in, with
:func:`tune_for_cpu_tracking`. :func:`release_free_memory` hands free pages back to the OS
either way, which changes no setting: tracking calls it at intervals on the CPU, so memory
stays flat on long videos for every user of the library.
"""

import ctypes
import ctypes.util
import os
from typing import Optional

# mallopt parameters from glibc's <malloc.h>.
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_NEVER_TRIM = -1  # read by glibc as the largest size_t

ENV_SWITCH = "SAM2_KEEP_FREED_MEMORY"


def _load_glibc() -> Optional[ctypes.CDLL]:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


_GLIBC = _load_glibc()
_tuned = False


def tune_for_cpu_tracking() -> bool:
    """Make this process's allocator keep freed memory, for faster tracking on the CPU.

    Process-wide and permanent: glibc then serves large blocks from its heap (no ``mmap``
    per block, so no page faults per frame) and never trims the heap by itself;
    :meth:`SAM2VideoPredictor.propagate_in_video` on the CPU still trims it every
    ``MemoryPolicy.frames_between_trims`` frames (see :func:`release_free_memory`). Call it
    once, before tracking; later calls do nothing. Skipped without glibc or when the environment has
    ``SAM2_KEEP_FREED_MEMORY=0``. Returns whether the tuning is in effect.
    """
    global _tuned
    if _tuned:
        return True
    if _GLIBC is None or os.environ.get(ENV_SWITCH, "1") == "0":
        return False
    _tuned = bool(_GLIBC.mallopt(_M_MMAP_MAX, 0)) and bool(_GLIBC.mallopt(_M_TRIM_THRESHOLD, _NEVER_TRIM))
    return _tuned


def release_free_memory() -> None:
    """Give the free pages of every arena back to the OS (``malloc_trim(0)``): only pages
    that hold no live block, so it changes no setting and frees nothing in use.

    :meth:`SAM2VideoPredictor.propagate_in_video` on the CPU calls it every
    ``MemoryPolicy.frames_between_trims`` frames (default 50), tuned or not: blocks that live
    on (object pointers, scores, the state's small tensors) land between a frame's transient
    ones, so the heap fragments and the free space it keeps resident grew with the video
    (sam2.1 hiera-t, 512 px, fp32, untuned: 110 MiB free at frame 100, 200 at frame 300, while
    the bytes in use stayed at 407 MiB). One call costs about one frame's page faults, spread
    over 50 frames. The app also calls it when a session closes."""
    if _GLIBC is not None:
        _GLIBC.malloc_trim(0)
