"""The CPU runtime settings: allocator tuning and when the next frame is decoded ahead."""

import ctypes
import threading

import pytest
import torch

from sam2 import cpu_allocator, frame_prefetch
from sam2.build_sam import build_sam2


class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost",
    )]


def mmapped_blocks() -> int:
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = MallInfo2
    return libc.mallinfo2().hblks


@pytest.mark.skipif(cpu_allocator._GLIBC is None or not hasattr(cpu_allocator._GLIBC, "mallinfo2"),
                    reason="needs glibc >= 2.33")
def test_large_tensors_come_from_the_heap_once_freed_memory_is_kept():
    assert cpu_allocator.keep_freed_memory()
    before = mmapped_blocks()
    big = torch.empty(64 * 2**20, dtype=torch.uint8)
    assert mmapped_blocks() == before
    del big
    cpu_allocator.release_free_memory()


def test_the_environment_switch_turns_the_allocator_setting_off(monkeypatch):
    monkeypatch.setattr(cpu_allocator, "_kept", False)
    monkeypatch.setenv(cpu_allocator.ENV_SWITCH, "0")
    assert not cpu_allocator.keep_freed_memory()


@pytest.mark.parametrize("device, expected", [("cpu", 1), ("meta", 0)])
def test_building_a_cpu_model_keeps_freed_memory(monkeypatch, device, expected):
    calls = []
    monkeypatch.setattr("sam2.build_sam.keep_freed_memory", lambda: calls.append(True))
    build_sam2("test_tiny", device=device)
    assert len(calls) == expected


def ran_on(device):
    """The thread each prefetched call ran on (empty when nothing ran)."""
    threads = []
    with frame_prefetch.frame_prefetcher(torch.device(device)) as prefetch:
        prefetch(lambda: threads.append(threading.current_thread().name))
    return threads


@pytest.mark.parametrize("device, spare, on_reader", [("cpu", 0, False), ("cpu", 1, True), ("cuda", 0, True)])
def test_frames_are_read_ahead_only_when_it_is_free(monkeypatch, device, spare, on_reader):
    monkeypatch.setattr(frame_prefetch, "spare_cpu_cores", lambda: spare)
    threads = ran_on(device)
    if on_reader:
        assert len(threads) == 1 and threads[0].startswith("sam2-frame-reader")
    else:
        assert threads == []
