"""One browser session: its video, objects, model state, masks and files (no Gradio here).

Each piece has one owner: the model state holds the prompts (and the model's memory), the
mask store the masks shown, the roster the objects (also those not clicked yet), the view
what the page shows, and the session's files what was written for it.
"""

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
from sam2.tensor_spill import TensorSpill
from sam2.video_state import InferenceState

from .errors import SessionClosed, UserError
from .mask_store import MaskStore
from .model_calls import StopSignal
from .prompts import FramePrompts, frame_prompts, prompted_frames
from .settings import Limits


def new_work_dir() -> Path:
    """A private folder for one session's own files (the web server never serves it)."""
    return Path(tempfile.mkdtemp(prefix="sam2-session-"))


def _remove_folders(folders: List[Path]) -> None:
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


@dataclass(frozen=True)
class VideoClip:
    """What the user opened: its cleaned name and the facts shown about it."""

    name: str
    width: int
    height: int
    num_frames: int
    fps: float
    notices: Tuple[str, ...] = ()

    @property
    def size(self) -> Tuple[int, int]:
        """(height, width)."""
        return self.height, self.width

    def check_frame(self, frame_idx) -> int:
        """``frame_idx`` as an int within the video, or a UserError saying what is wrong."""
        try:
            frame_idx = int(frame_idx)
        except (TypeError, ValueError, OverflowError) as error:
            raise UserError(f"{frame_idx!r} is not a frame number.") from error
        if not 0 <= frame_idx < self.num_frames:
            raise UserError(f"Frame {frame_idx} does not exist: the video has frames 0 to {self.num_frames - 1}.")
        return frame_idx


@dataclass
class ObjectRoster:
    """The objects of the session in the order they were added, and the one clicks go to."""

    ids: List[int] = field(default_factory=lambda: [1])
    current: int = 1

    def add(self) -> int:
        obj_id = max(self.ids) + 1
        self.ids.append(obj_id)
        self.current = obj_id
        return obj_id

    def remove(self, obj_id: int) -> None:
        """Drop ``obj_id``; the last object is never dropped (it is emptied by the caller)."""
        if len(self.ids) > 1:
            self.ids.remove(obj_id)
        if self.current not in self.ids:
            self.current = self.ids[0]


@dataclass
class View:
    """What the page shows: the frame in the viewer (clicks land there) and a half-drawn box."""

    shown_frame: int = 0
    # (frame, x, y) of a box's first corner until the second click.
    pending_corner: Optional[Tuple[int, float, float]] = None


class SessionFiles:
    """The session's folder (its video, spilled memories, stream chunks) and the files handed
    to the user, each in its own unguessable folder under ``output_root`` (the web server's
    file cache), so a link to one file reveals no other. Newest ``KEPT`` versions per name."""

    KEPT = 2

    def __init__(self, work_dir: Path, output_root: Optional[Path] = None) -> None:
        self.work_dir = work_dir
        self.output_root = output_root if output_root is not None else work_dir / "outputs"
        self.spill = TensorSpill(str(work_dir))
        self.stop = StopSignal(work_dir / "stop-tracking")
        self._versions: Dict[str, List[Path]] = {}
        self._finalizer = weakref.finalize(self, _remove_folders, [work_dir])

    def output_path(self, filename: str) -> Path:
        folder = self.output_root / secrets.token_hex(16)
        folder.mkdir(parents=True)
        versions = self._versions.setdefault(filename, [])
        versions.append(folder)
        while len(versions) > self.KEPT:
            shutil.rmtree(versions.pop(0), ignore_errors=True)
        return folder / filename

    def remove_all(self) -> None:
        self.spill.close()
        _remove_folders([self.work_dir, *(f for folders in self._versions.values() for f in folders)])
        self._finalizer.detach()


@dataclass
class Session:
    """Everything one user works on. Model calls return a new ``state``, which :meth:`adopt`
    takes in; :meth:`close` frees the video, the model state and the files, at once or, while
    a request still uses the session, when that request ends."""

    video: VideoClip
    frames: FrameSource  # the app's reader of the video, for drawing and exports
    model_id: str
    image_size: int  # the model's input resolution, the scale of the prompts in the state
    state: InferenceState
    files: SessionFiles
    limits: Limits = field(default_factory=Limits)
    objects: ObjectRoster = field(default_factory=ObjectRoster)
    masks: MaskStore = field(default_factory=MaskStore)
    view: View = field(default_factory=View)
    # The earliest frame whose prompts changed since the last tracking run (None: up to date).
    dirty_from: Optional[int] = None
    closed: bool = field(default=False, init=False)
    _users: int = field(default=0, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        self.state.spill = self.files.spill

    # ----------------------------------------------------------------- model state
    def adopt(self, state: InferenceState) -> None:
        """Take the state a model call returned; delete spilled memories no longer used."""
        self.state = state
        self.files.spill.keep_only(state.spilled_keys())

    def prompts(self, obj_id: int, frame_idx: int) -> FramePrompts:
        return frame_prompts(self.state, obj_id, frame_idx, self.image_size)

    def prompted_frames(self) -> List[int]:
        return prompted_frames(self.state)

    def mark_dirty(self, frame_idx: int) -> None:
        self.dirty_from = frame_idx if self.dirty_from is None else min(self.dirty_from, frame_idx)

    def tracked_frames(self) -> List[int]:
        """Frames that have a mask of every object in the model."""
        return self.masks.frames_with(self.state.obj_ids)

    def backward_start(self) -> Optional[int]:
        """Where a backward pass must begin so that every object is tracked back to frame 0: the
        latest first prompt (the predictor tracks backward only from a frame after 0), or None
        when all objects already reach frame 0."""
        firsts = []
        for obj in self.state.objects:
            reached = set(obj.frames_tracked) | set(obj.cond_outputs)
            frames = prompted_frames(self.state, obj.obj_id)
            if frames and 0 not in reached:
                firsts.append(frames[0])
        return max(firsts) if firsts and max(firsts) > 0 else None

    # ------------------------------------------------------------------- lifetime
    @property
    def busy(self) -> bool:
        """Whether a request is using the session."""
        with self._lock:
            return self._users > 0

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
        """Stop any tracking and free the video, the model state and the session's files
        (deferred until the requests using the session end). Safe to call more than once."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            self.files.stop.request()
            release = self._users == 0
        if release:
            self._release()

    def _release(self) -> None:
        self.frames.close()
        self.state.objects.clear()
        self.state.cached_features.clear()
        self.masks.clear()
        self.files.remove_all()
        release_free_memory()
