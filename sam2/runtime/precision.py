"""Precision policy: which autocast dtype is fastest and safe on a device.

The library itself follows the caller's ``torch.autocast`` context (fp32 without one). These
helpers pick a context for callers that want speed: bfloat16 on CUDA GPUs that compute it
(compute capability 8.0 and newer) and on CPUs with bf16 matrix instructions (AMX or
AVX512-BF16); float16 on older CUDA GPUs; float32 on Apple MPS (its bfloat16 support depends
on the macOS version) and on other CPUs.
"""

import contextlib
import functools
from typing import ContextManager, Optional

import torch

BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")


@functools.lru_cache(maxsize=1)
def cpu_flags() -> frozenset:
    """The CPU feature flags the OS reports (empty where /proc/cpuinfo does not exist)."""
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def fastest_safe_dtype(device) -> Optional[torch.dtype]:
    """bfloat16 where the hardware computes it natively, float16 on CUDA GPUs without it,
    else None (stay in float32)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.get_device_capability(device) >= (8, 0) else torch.float16
    if device.type == "cpu":
        return torch.bfloat16 if any(flag in cpu_flags() for flag in BF16_CPU_FLAGS) else None
    return None


def dtype_name(dtype: Optional[torch.dtype]) -> str:
    """"bfloat16", "float16" or "float32" (None stands for float32)."""
    return str(dtype or torch.float32).replace("torch.", "")


def autocast_context(device, dtype: Optional[torch.dtype]) -> ContextManager:
    """``torch.autocast`` for ``dtype`` on the device type, or a no-op for float32."""
    if dtype is None or dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=dtype)


def fastest_autocast(device) -> ContextManager:
    """The autocast context of :func:`fastest_safe_dtype` for ``device``."""
    return autocast_context(device, fastest_safe_dtype(device))
