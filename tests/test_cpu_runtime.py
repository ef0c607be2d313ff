"""The CPU runtime settings: allocator tuning and when the next frame is decoded ahead."""

import os
import subprocess
import sys
import threading

import pytest
import torch

from oracle.paths import REPO
from sam2.frames import prefetch as frame_prefetch
from sam2.runtime import cpu_allocator
from sam2.assembly.model_builder import build_model
from sam2.build_sam import build_sam2, build_sam2_video_predictor
from sam2.assembly.configs import PRESETS
from sam2.sam2_video_predictor import SAM2VideoPredictor

# Run in a new process, so that the test process keeps glibc's default settings: whether a
# 64 MiB tensor gets its own mmap, after a model build and after the opt-in.
LARGE_TENSOR_MMAPPED = """
import ctypes
import torch
from sam2.runtime import cpu_allocator
from sam2.build_sam import build_sam2_video_predictor

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost",
    )]

libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallInfo2

def mmapped() -> bool:
    before = libc.mallinfo2().hblks
    big = torch.empty(64 * 2**20, dtype=torch.uint8)
    return libc.mallinfo2().hblks > before

build_sam2_video_predictor("test_tiny", device="cpu")
print(mmapped(), cpu_allocator.tune_for_cpu_tracking(), mmapped())
"""


@pytest.mark.skipif(cpu_allocator._GLIBC is None or not hasattr(cpu_allocator._GLIBC, "mallinfo2"),
                    reason="needs glibc >= 2.33")
def test_only_the_opt_in_makes_large_tensors_come_from_the_heap():
    env = {key: value for key, value in os.environ.items() if key != cpu_allocator.ENV_SWITCH}
    run = subprocess.run([sys.executable, "-c", LARGE_TENSOR_MMAPPED], env=env, cwd=REPO, capture_output=True,
                         text=True, check=True)
    assert run.stdout.split() == ["True", "True", "False"]


def test_building_models_leaves_the_allocator_alone(fake_glibc):
    build_sam2("test_tiny", device="cpu")
    build_sam2_video_predictor("test_tiny", device="cpu")
    build_model(PRESETS["test_tiny"], SAM2VideoPredictor)
    assert fake_glibc.calls == []


def test_the_opt_in_sets_glibc_once(fake_glibc):
    assert cpu_allocator.tune_for_cpu_tracking()
    assert cpu_allocator.tune_for_cpu_tracking()
    assert fake_glibc.count("mallopt") == 2


def test_the_environment_switch_turns_the_opt_in_off(fake_glibc, monkeypatch):
    monkeypatch.setenv(cpu_allocator.ENV_SWITCH, "0")
    assert not cpu_allocator.tune_for_cpu_tracking()
    assert fake_glibc.calls == []


def test_without_glibc_the_opt_in_does_nothing(monkeypatch):
    monkeypatch.setattr(cpu_allocator, "_GLIBC", None)
    monkeypatch.setattr(cpu_allocator, "_tuned", False)
    assert not cpu_allocator.tune_for_cpu_tracking()


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
