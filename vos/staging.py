"""Output folders that appear whole or not at all, so a run can resume.

A video's masks are written into a hidden attempt folder beside its output folder
(``<root>/.<video>.attempt-XXXX/<video>/``) and moved into place when every frame is written.
A folder ``<root>/<video>`` is therefore complete, whoever wrote it. An attempt that dies (its
process killed, its machine lost) leaves its hidden folder behind, with a record of where it
ran; the attempt of that video that finishes removes them and reports them.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, List, Set, Tuple

ATTEMPT_RECORD = "attempt.json"


@dataclass(frozen=True)
class Attempt:
    """Where and when one attempt at a video ran."""

    host: str
    pid: int
    started: float  # seconds since the epoch

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}, started {time.strftime('%H:%M:%S', time.localtime(self.started))}"


def _attempt_folders(root: Path, video: str) -> List[Path]:
    return sorted(Path(root).glob(f".{video}.attempt-*"))


def _read_attempt(folder: Path) -> Attempt:
    try:
        return Attempt(**json.loads((folder / ATTEMPT_RECORD).read_text()))
    except (OSError, ValueError, TypeError):  # killed before its record was written
        return Attempt("unknown host", -1, folder.stat().st_mtime)


@dataclass(frozen=True)
class StagedVideo:
    """One attempt at writing the masks of ``video`` under ``root``. Write under ``staging_root``
    (same layout as ``root``), then ``commit`` or ``abandon``."""

    root: Path
    video: str
    staging_root: Path

    @classmethod
    def begin(cls, root: Path, video: str) -> "StagedVideo":
        Path(root).mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{video}.attempt-", dir=root))
        record = Attempt(socket.gethostname(), os.getpid(), time.time())
        (staging / ATTEMPT_RECORD).write_text(json.dumps(asdict(record)))
        return cls(Path(root), video, staging)

    def commit(self) -> Tuple[Attempt, ...]:
        """Move the written masks to ``root/video`` (replacing an older folder there), remove
        this attempt's folder and those of earlier attempts that died; return the latter."""
        written, final = self.staging_root / self.video, self.root / self.video
        written.mkdir(exist_ok=True)
        if final.exists():
            os.replace(final, self.staging_root / "replaced")
        os.replace(written, final)
        return self._clear()

    def abandon(self) -> Tuple[Attempt, ...]:
        """Remove what this attempt wrote (it failed with an error; nothing is moved in) and
        the folders of earlier attempts that died; return the latter."""
        return self._clear()

    def _clear(self) -> Tuple[Attempt, ...]:
        earlier = [folder for folder in _attempt_folders(self.root, self.video) if folder != self.staging_root]
        died = tuple(sorted((_read_attempt(folder) for folder in earlier), key=lambda attempt: attempt.started))
        for folder in [*earlier, self.staging_root]:
            shutil.rmtree(folder, ignore_errors=True)
        return died


def complete_videos(root: Path, videos: Iterable[str]) -> Set[str]:
    """The ``videos`` whose output folder exists under ``root`` (and so is complete)."""
    return {video for video in videos if (Path(root) / video).is_dir()}
