"""Keeps tensors on disk in a private temporary folder so session memory stays flat."""

import itertools
import os
import shutil
import tempfile
import threading
import weakref
from typing import Dict

import torch


class TensorSpill:
    """Writes groups of tensors to files and reads them back unchanged (bit-exact).

    The folder is removed by ``close()`` or when the object is garbage collected.
    """

    def __init__(self, directory: str = None) -> None:
        self.directory = tempfile.mkdtemp(prefix="sam2-spill-", dir=directory)
        self._names = itertools.count()
        self._lock = threading.Lock()
        self._finalizer = weakref.finalize(self, shutil.rmtree, self.directory, True)

    def put(self, tensors: Dict[str, torch.Tensor]) -> str:
        """Store CPU copies of ``tensors``; returns the key to read them back."""
        with self._lock:
            key = os.path.join(self.directory, f"{next(self._names)}.pt")
        torch.save({name: t.detach().cpu() for name, t in tensors.items()}, key)
        return key

    def get(self, key: str, device: torch.device) -> Dict[str, torch.Tensor]:
        return {name: t.to(device) for name, t in torch.load(key, map_location="cpu", weights_only=True).items()}

    def discard(self, key: str) -> None:
        try:
            os.remove(key)
        except FileNotFoundError:
            pass

    def close(self) -> None:
        self._finalizer()
