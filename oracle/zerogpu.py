"""The strict ZeroGPU stand-in (oracle/zerogpu_standin/spaces) for tests in this process and for
app servers started by them."""

import importlib.util
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

STANDIN = Path(__file__).resolve().parent / "zerogpu_standin"


def load_standin():
    """The stand-in's ``spaces`` module, loaded under another name so that it never shadows a
    real ``spaces`` package in this process."""
    if "spaces_standin" not in sys.modules:
        spec = importlib.util.spec_from_file_location("spaces_standin", STANDIN / "spaces" / "__init__.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["spaces_standin"] = module  # pickle finds the stand-in's own types by module name
        spec.loader.exec_module(module)
    return sys.modules["spaces_standin"]


@contextmanager
def zero_gpu(monkeypatch) -> Iterator[object]:
    """Make model calls built inside this block run under the stand-in; yields its module."""
    from tracker.model import gpu

    standin = load_standin()
    standin.CALLS.clear()
    monkeypatch.setattr(gpu, "spaces", standin)
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    yield standin


def server_environment(log: Path) -> dict:
    """Environment for an app server whose ``import spaces`` finds the stand-in."""
    return {"PYTHONPATH": os.pathsep.join([str(STANDIN), str(STANDIN.parents[1])]), "SPACES_ZERO_GPU": "true",
            "ZEROGPU_STANDIN_LOG": str(log)}
