"""Keeps tensors on disk, in a private temporary folder or in one the caller owns, so session
memory stays flat."""

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

    The store made by the constructor owns its files: it deletes them on ``discard``. A pickled
    copy (a state handed to another process) borrows the folder: it reads, and writes files
    under names of its own, but deletes nothing; :meth:`keep_only` removes what no state uses.
    By default the folder is a private temporary one, deleted on ``close()`` or when the
    original store is garbage collected, and only the original may call ``keep_only``. With
    ``caller_folder`` the folder is the caller's: never deleted here, and any copy may call
    ``keep_only`` (the caller says which state is current).
    """

    def __init__(self, directory: str = None, caller_folder: bool = False) -> None:
        if caller_folder:
            os.makedirs(directory, exist_ok=True)
            self.directory = str(directory)
        else:
            self.directory = tempfile.mkdtemp(prefix="sam2-spill-", dir=directory)
        self.owner = True
        self.caller_folder = caller_folder
        self._start_naming()
        self._finalizer = None if caller_folder else weakref.finalize(self, shutil.rmtree, self.directory, True)

    def _start_naming(self) -> None:
        # Names unique across the processes that share the folder.
        self._prefix = uuid.uuid4().hex[:12]
        self._count = 0
        self._lock = threading.Lock()

    def __getstate__(self) -> dict:
        return {"directory": self.directory, "caller_folder": self.caller_folder}

    def __setstate__(self, state: dict) -> None:
        self.directory = state["directory"]
        self.caller_folder = state.get("caller_folder", False)
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
        """Delete every file of the folder but those of ``keys`` (the original store, or any copy
        in a caller's folder); returns how many were deleted. For files that borrowers wrote and
        that no state refers to any more."""
        if not (self.owner or self.caller_folder):
            raise RuntimeError("only the store that made the folder deletes its files")
        kept = {os.path.basename(key) for key in keys}
        removed = 0
        for name in os.listdir(self.directory):
            if name not in kept:
                try:
                    os.remove(os.path.join(self.directory, name))
                except FileNotFoundError:
                    continue
                removed += 1
        return removed

    def close(self) -> None:
        """Delete a private folder (original store only; a borrower, or a store in a caller's
        folder, just stops using it)."""
        if self._finalizer is not None:
            self._finalizer()
