"""One browser session: its video, objects, prompts and tracking state (no Gradio here)."""

import contextlib
import secrets
import shutil
import tempfile
import threading
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

from sam2.cpu_allocator import release_free_memory
from sam2.frame_source import FrameSource
from sam2.video_state import InferenceState

from .mask_store import MaskStore
from .overlay import Click
from .settings import Limits

Box = Tuple[float, float, float, float]


def new_work_dir() -> Path:
    """A private folder for one session's own files (the web server never serves it)."""
    return Path(tempfile.mkdtemp(prefix="sam2-session-"))


def _remove_files(work_dir: Path, outputs: Dict[str, List[Path]]) -> None:
    for folder in [work_dir, *(f for folders in outputs.values() for f in folders)]:
        shutil.rmtree(folder, ignore_errors=True)


class SessionClosed(Exception):
    """The session was closed (tab closed, idle too long, or replaced) before this request ran."""


@dataclass
class ObjectPrompts:
    """Clicks and boxes of one object, per frame."""

    obj_id: int
    clicks: Dict[int, List[Click]] = field(default_factory=dict)
    boxes: Dict[int, Box] = field(default_factory=dict)

    def frames(self) -> List[int]:
        return sorted(set(self.clicks) | set(self.boxes))


@dataclass
class Session:
    """Everything one user works on. ``state`` is the predictor's session state.

    Files handed to the user are made with :meth:`output_path`, each in its own unguessable
    folder under ``output_root`` (the web server's file cache), so a link to one file reveals
    no other. :meth:`close` frees the video, the model state and every file of the session,
    at once or, while a request still uses the session, when that request ends.
    """

    #: Newest files of one name kept: the page may play one while offering the other for download.
    OUTPUTS_KEPT = 2

    video_name: str
    state: InferenceState
    fps: float
    limits: Limits = field(default_factory=Limits)
    notices: List[str] = field(default_factory=list)
    model_id: Optional[str] = None
    objects: Dict[int, ObjectPrompts] = field(default_factory=dict)
    current_obj_id: int = 1
    pending_corner: Optional[Tuple[float, float]] = None
    # The earliest frame whose prompts changed since the last tracking run (None: up to date).
    dirty_from: Optional[int] = None
    masks: MaskStore = field(default_factory=MaskStore)
    stop_requested: threading.Event = field(default_factory=threading.Event)
    work_dir: Path = field(default_factory=new_work_dir)
    output_root: Optional[Path] = None
    closed: bool = field(default=False, init=False)
    _users: int = field(default=0, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    # File name -> the folders of its versions handed out, oldest first.
    _outputs: Dict[str, List[Path]] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.objects.setdefault(self.current_obj_id, ObjectPrompts(self.current_obj_id))
        weakref.finalize(self, _remove_files, self.work_dir, self._outputs)

    @property
    def frames(self) -> FrameSource:
        """The video's frames (the predictor state reads the same source)."""
        return self.state.images

    @property
    def num_frames(self) -> int:
        return self.state.num_frames

    @property
    def size(self) -> Tuple[int, int]:
        """(height, width) of the video."""
        return self.state.video_height, self.state.video_width

    @property
    def current(self) -> ObjectPrompts:
        return self.objects[self.current_obj_id]

    def mark_dirty(self, frame_idx: int) -> None:
        self.dirty_from = frame_idx if self.dirty_from is None else min(self.dirty_from, frame_idx)

    def prompted_frames(self) -> List[int]:
        return sorted({f for obj in self.objects.values() for f in obj.frames()})

    def tracked_frames(self) -> List[int]:
        """Frames that tracking has reached for every object in the predictor."""
        if not self.state.objects:
            return []
        reached = [set(obj.frames_tracked) | set(obj.cond_outputs) for obj in self.state.objects]
        return sorted(set.intersection(*reached) & set(self.masks.frames_with(self.state.obj_ids)))

    def backward_start(self) -> Optional[int]:
        """Where a backward pass must begin so that every object is tracked back to frame 0: the
        latest first prompt (the predictor tracks backward only from a frame after 0), or None
        when all objects already reach frame 0."""
        reached = {obj.obj_id: set(obj.frames_tracked) | set(obj.cond_outputs) for obj in self.state.objects}
        firsts = [min(obj.frames()) for obj in self.objects.values() if obj.frames() and 0 not in reached.get(obj.obj_id, ())]
        return max(firsts) if firsts and max(firsts) > 0 else None

    def output_path(self, filename: str) -> Path:
        """Where to write a file for the user: a new unguessable folder. Older versions of the
        file beyond ``OUTPUTS_KEPT`` are deleted, and all of them on close."""
        root = self.output_root if self.output_root is not None else self.work_dir / "outputs"
        folder = root / secrets.token_hex(16)
        folder.mkdir(parents=True)
        versions = self._outputs.setdefault(filename, [])
        versions.append(folder)
        while len(versions) > self.OUTPUTS_KEPT:
            shutil.rmtree(versions.pop(0), ignore_errors=True)
        return folder / filename

    @contextlib.contextmanager
    def in_use(self) -> Iterator["Session"]:
        """Keep the session's resources while a request works on it."""
        with self._lock:
            if self.closed:
                raise SessionClosed()
            self._users += 1
        try:
            yield self
        finally:
            with self._lock:
                self._users -= 1
                release = self.closed and self._users == 0
            if release:
                self._release()

    def close(self) -> None:
        """Stop any tracking and free the video, the predictor state and the session's files
        (deferred until the requests using the session end). Safe to call more than once."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            self.stop_requested.set()
            release = self._users == 0
        if release:
            self._release()

    def _release(self) -> None:
        self.frames.close()
        self.state.objects.clear()
        self.state.cached_features.clear()
        self.masks.clear()
        if self.state.spill is not None:
            self.state.spill.close()
        _remove_files(self.work_dir, self._outputs)
        release_free_memory()
