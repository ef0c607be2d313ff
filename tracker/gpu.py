"""Hugging Face ZeroGPU support: ``spaces.GPU`` when the ``spaces`` package is present, else a no-op."""

from typing import Callable

try:
    import spaces
except ImportError:  # not on a Space: run handlers as they are
    spaces = None


def on_gpu(function: Callable) -> Callable:
    """Mark a handler that runs the model, so ZeroGPU attaches a GPU while it runs."""
    return spaces.GPU(function) if spaces is not None else function
