"""Decoding the next video frame while the current one is tracked, when that is free."""

import contextlib
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterator

import torch


def spare_cpu_cores() -> int:
    """CPU cores this process may use beyond torch's intra-op threads (may be <= 0)."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        usable = os.cpu_count() or 1
    return usable - torch.get_num_threads()


@contextlib.contextmanager
def frame_prefetcher(device: torch.device) -> Iterator[Callable[..., None]]:
    """Yields ``prefetch(fn, *args)``.

    It runs ``fn`` on a reader thread when the model runs on a GPU or a CPU core is spare.
    Otherwise it does nothing and each frame is decoded when first used: with every core in
    torch's parallel loops, a reader thread delays each loop's slowest thread, which cost
    ~0.1 s per frame on 2 cores against ~0.02 s of decoding.
    """
    if torch.device(device).type == "cpu" and spare_cpu_cores() < 1:
        yield lambda fn, *args: None
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sam2-frame-reader") as reader:
        yield reader.submit
