"""Keeps tensors on disk in a private temporary folder so session memory stays flat."""

import os
import shutil
import tempfile
import threading
import uuid
import weakref
from typing import Dict, Iterable

import torch


class TensorSpill:
    """Writes groups of tensors to files and reads them back unchanged (bit-exact).

    The store that made the folder owns it: it deletes files on ``discard``, and the folder
    on ``close()`` or when it is garbage collected. A pickled copy (a state handed to another
    process) borrows the folder: it reads, and writes files under names of its own, but never
    deletes anything; the owner removes what is no longer used with :meth:`keep_only`.
    """

    def __init__(self, directory: str = None) -> None:
        self.directory = tempfile.mkdtemp(prefix="sam2-spill-", dir=directory)
        self.owner = True
        self._start_naming()
        self._finalizer = weakref.finalize(self, shutil.rmtree, self.directory, True)

    def _start_naming(self) -> None:
        # Names unique across the processes that share the folder.
        self._prefix = uuid.uuid4().hex[:12]
        self._count = 0
        self._lock = threading.Lock()

    def __getstate__(self) -> dict:
        return {"directory": self.directory}

    def __setstate__(self, state: dict) -> None:
        self.directory = state["directory"]
        self.owner = False
        self._start_naming()
        self._finalizer = None

    def put(self, tensors: Dict[str, torch.Tensor]) -> str:
        """Store CPU copies of ``tensors``; returns the key to read them back."""
        with self._lock:
            key = os.path.join(self.directory, f"{self._prefix}-{self._count}.pt")
            self._count += 1
        torch.save({name: t.detach().cpu() for name, t in tensors.items()}, key)
        return key

    def get(self, key: str, device: torch.device) -> Dict[str, torch.Tensor]:
        return {name: t.to(device) for name, t in torch.load(key, map_location="cpu", weights_only=True).items()}

    def discard(self, key: str) -> None:
        """Delete the file of ``key`` (only the owner deletes)."""
        if not self.owner:
            return
        try:
            os.remove(key)
        except FileNotFoundError:
            pass

    def keep_only(self, keys: Iterable[str]) -> int:
        """Delete every file of the folder but those of ``keys`` (owner only); returns how many
        were deleted. For files that borrowers wrote and that no state refers to any more."""
        if not self.owner:
            raise RuntimeError("only the store that made the folder deletes its files")
        kept = {os.path.basename(key) for key in keys}
        removed = 0
        for name in os.listdir(self.directory):
            if name not in kept:
                self.discard(os.path.join(self.directory, name))
                removed += 1
        return removed

    def close(self) -> None:
        """Delete the folder (owner only; a borrower just stops using it)."""
        if self._finalizer is not None:
            self._finalizer()
