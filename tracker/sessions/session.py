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
from typing import Callable, Dict, Iterator, List, Optional, Tuple

import numpy as np

from sam2.frames.source import FrameSource
from sam2.runtime.cpu_allocator import release_free_memory
from sam2.sam2_video_predictor import InferenceState
from sam2.state_storage import release, tidy_spill

from ..errors import SessionClosed, UserError
from ..media.publish import publish
from ..model.calls import ModelChoice, StopSignal
from ..model.mask_store import MaskStore
from ..model.packed_mask import PackedMask
from ..model.prompts import FramePrompts, frame_prompts, mask_prompted, prompted_frames
from ..settings import Limits
from .findings import Findings, TextQuery
from .window import FrameWindow, describe, first_window


def new_work_dir() -> Path:
    """A private folder for one session's own files (the web server never serves it)."""
    return Path(tempfile.mkdtemp(prefix="sam2-session-"))


def _remove_folders(folders: List[Path]) -> None:
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


@dataclass(frozen=True)
class VideoClip:
    """What the user opened: its cleaned name, the facts shown about it and when each of its
    frames starts ((num_frames,) seconds)."""

    name: str
    width: int
    height: int
    num_frames: int
    fps: float
    frame_times: np.ndarray = field(repr=False, compare=False)
    notices: Tuple[str, ...] = ()
    has_sound: bool = False

    @property
    def size(self) -> Tuple[int, int]:
        """(height, width)."""
        return self.height, self.width

    def check_frame(self, frame_idx, window: Optional[FrameWindow] = None) -> int:
        """``frame_idx`` as an int within the video (and ``window``), or a UserError saying what is wrong."""
        try:
            frame_idx = int(frame_idx)
        except (TypeError, ValueError, OverflowError) as error:
            raise UserError(f"{frame_idx!r} is not a frame number.") from error
        if not 0 <= frame_idx < self.num_frames:
            raise UserError(f"Frame {frame_idx} does not exist: the video has frames 0 to {self.num_frames - 1}.")
        if window is not None and frame_idx not in window:
            raise UserError(f"Frame {frame_idx} is outside the window ({describe(window, self.frame_times)}): "
                            "move the window to work there.")
        return frame_idx


@dataclass
class ObjectRoster:
    """The objects of the session in the order they were added, their names, and the one
    clicks go to."""

    MAX_NAME = 40

    ids: List[int] = field(default_factory=lambda: [1])
    current: int = 1
    names: Dict[int, str] = field(default_factory=dict)

    def reset(self) -> None:
        """Object 1 alone, unnamed, selected."""
        self.ids, self.current = [1], 1
        self.names.clear()

    def add(self) -> int:
        obj_id = max(self.ids) + 1
        self.ids.append(obj_id)
        self.current = obj_id
        return obj_id

    def remove(self, obj_id: int) -> None:
        """Drop ``obj_id``; the last object is never dropped (it is emptied by the caller)."""
        self.names.pop(obj_id, None)
        if len(self.ids) > 1:
            self.ids.remove(obj_id)
        if self.current not in self.ids:
            self.current = self.ids[0]

    def name(self, obj_id: int) -> str:
        """The name the user gave, else "object <id>"."""
        return self.names.get(obj_id) or f"object {obj_id}"

    def rename(self, obj_id: int, name: str) -> None:
        """Name ``obj_id`` (an empty name restores the default)."""
        name = " ".join(str(name or "").split())
        if len(name) > self.MAX_NAME:
            raise UserError(f"Names have at most {self.MAX_NAME} characters.")
        if name:
            self.names[obj_id] = name
        else:
            self.names.pop(obj_id, None)

    def label(self, obj_id: int) -> str:
        """How the object list shows it, e.g. "2: dog"."""
        return f"{obj_id}: {self.name(obj_id)}"

    def labels(self) -> List[str]:
        return [self.label(obj_id) for obj_id in self.ids]

    def id_from_label(self, label) -> int:
        """The object id of a label from the list (or a bare id)."""
        try:
            obj_id = int(str(label).split(":", 1)[0])
        except ValueError as error:
            raise UserError(f"There is no object {label!r}.") from error
        if obj_id not in self.ids:
            raise UserError(f"There is no object {obj_id}.")
        return obj_id


@dataclass(frozen=True)
class TrackSpeed:
    """How fast ``model`` tracked in one run: ``frames`` in ``seconds`` (wall time, as the user waited)."""

    model: ModelChoice
    frames: int
    seconds: float

    @property
    def seconds_per_frame(self) -> float:
        return self.seconds / max(self.frames, 1)

    @property
    def text(self) -> str:
        """E.g. "1.9 s per frame" or "0.42 s per frame"."""
        value = self.seconds_per_frame
        return f"{value:.1f} s per frame" if value >= 1 else f"{value:.2f} s per frame"


@dataclass
class View:
    """What the page shows: the frame in the viewer (clicks land there) and a half-drawn box."""

    shown_frame: int = 0
    # (frame, x, y) of a box's first corner until the second click.
    pending_corner: Optional[Tuple[int, float, float]] = None
    # The frame last put in the mask editor: its strokes belong to that frame only.
    painted_frame: Optional[int] = None
    # Play goes on while this is the number it started with; anything else that shows a frame
    # changes it. The lock keeps "is Play still on" and "show its next frame" together.
    play_generation: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @contextlib.contextmanager
    def choosing_frame(self) -> Iterator[None]:
        """Stop a Play, and hold it off while the caller shows the frame it chooses."""
        with self.lock:
            self.play_generation += 1
            yield

    def stop_play(self) -> None:
        """Stop a Play (its next frame is not shown)."""
        with self.choosing_frame():
            pass

    def box_corner(self, frame_idx: int, x: float, y: float) -> Optional[Tuple[float, float]]:
        """A box click at (x, y) on ``frame_idx``: the first corner's (x, y) if this click is the
        second (the half-drawn box is then done), else None (this click is the first corner)."""
        corner = self.pending_corner
        if corner is None or corner[0] != frame_idx:
            self.pending_corner = (frame_idx, x, y)
            return None
        self.pending_corner = None
        return corner[1:]


class SessionFiles:
    """The session's folder (its video, spilled memories, stream chunks) and the files handed
    to the user, each in its own unguessable folder under ``output_root`` (the web server's
    file cache), so a link to one file reveals no other. Newest ``KEPT`` versions per name."""

    KEPT = 2

    def __init__(self, work_dir: Path, output_root: Optional[Path] = None) -> None:
        self.work_dir = work_dir
        self.output_root = output_root if output_root is not None else work_dir / "outputs"
        self.stop = StopSignal(work_dir / "stop-tracking")
        self._versions: Dict[str, List[Path]] = {}
        self._finalizer = weakref.finalize(self, _remove_folders, [work_dir])

    @staticmethod
    def spill_dir_of(work_dir: Path) -> Path:
        """Where the model states of the session in ``work_dir`` spill their memories."""
        return work_dir / "spill"

    @property
    def spill_dir(self) -> Path:
        return self.spill_dir_of(self.work_dir)

    def upload(self) -> Path:
        """The upload as kept in the session's folder (its sound stays there after a scale-down)."""
        return next(self.work_dir.glob("source.*"))

    def output_path(self, filename: str) -> Path:
        folder = self.output_root / secrets.token_hex(16)
        folder.mkdir(parents=True)
        versions = self._versions.setdefault(filename, [])
        versions.append(folder)
        while len(versions) > self.KEPT:
            shutil.rmtree(versions.pop(0), ignore_errors=True)
        return folder / filename

    def publish(self, filename: str, write: Callable[[Path], object]) -> Path:
        """A new handed-out file ``filename`` made by ``write(path)``; it appears only once whole."""
        return publish(self.output_path(filename), write)

    def remove_all(self) -> None:
        _remove_folders([self.work_dir, *(f for folders in self._versions.values() for f in folders)])
        self._finalizer.detach()


@dataclass
class Session:
    """Everything one user works on. Model calls return a new ``state``, which :meth:`adopt`
    takes in; :meth:`close` frees the video, the model state and the files, at once or, while
    a request still uses the session, when that request ends."""

    video: VideoClip
    frames: FrameSource  # the app's reader of the video, for drawing and exports
    model: ModelChoice  # its image_size is the scale of the prompts in the state
    state: InferenceState
    files: SessionFiles
    limits: Limits = field(default_factory=Limits)
    # What tracking and exports cover; default: from the start of the video up to the limit.
    window: Optional[FrameWindow] = None
    # The user's mask prompts in video pixels, (object id, frame) -> mask, for as long as the
    # model state holds them (the state keeps them only at the model's input size).
    mask_prompts: Dict[Tuple[int, int], PackedMask] = field(default_factory=dict)
    objects: ObjectRoster = field(default_factory=ObjectRoster)
    masks: MaskStore = field(default_factory=MaskStore)
    view: View = field(default_factory=View)
    # The earliest frame whose prompts changed since the last tracking run (None: up to date).
    dirty_from: Optional[int] = None
    # The speed of the last Track (None: none yet on the session's model).
    last_track: Optional[TrackSpeed] = None
    # What the last "Find by text" offered (None: nothing on offer) and looked for.
    findings: Optional[Findings] = None
    last_query: Optional[TextQuery] = None
    # Track looks for the last query's things every this many frames (0: never); objects found
    # by text -> the frame they were found on.
    look_every: int = 0
    found_at: Dict[int, int] = field(default_factory=dict)
    closed: bool = field(default=False, init=False)
    _users: int = field(default=0, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.window is None:
            self.window = first_window(self.video.num_frames, self.limits.max_frames)

    def check_frame(self, frame_idx) -> int:
        """``frame_idx`` as an int within the window, or a UserError."""
        return self.video.check_frame(frame_idx, self.window)

    # ------------------------------------------------------------ objects, window
    # Each drops a half-drawn box: its second corner would go to another object or window.
    def set_window(self, window: FrameWindow) -> None:
        self.window = window
        self.view.pending_corner = None

    def add_object(self) -> None:
        """A new object, selected (UserError at the session's limit)."""
        if len(self.objects.ids) >= self.limits.max_objects:
            raise UserError(f"At most {self.limits.max_objects} objects can be tracked at once.")
        self.objects.add()
        self.view.pending_corner = None

    def select_object(self, obj_id: int) -> None:
        self.objects.current = obj_id
        self.view.pending_corner = None

    def forget_object(self, obj_id: int, state: InferenceState) -> None:
        """``obj_id`` removed (the last object is emptied instead), with the state that no longer has it."""
        self.adopt(state)
        self.masks.forget_object(obj_id)
        self.objects.remove(obj_id)
        self.found_at.pop(obj_id, None)

    def reset_objects(self, state: InferenceState) -> None:
        """Start again with object 1, with the model's emptied state: no prompts, masks or
        painting, nothing left to track."""
        self.adopt(state)
        self.masks.clear()
        self.objects.reset()
        self.found_at.clear()
        self.view.painted_frame = None
        self.dirty_from = None

    # ----------------------------------------------------------------- model state
    def adopt(self, state: InferenceState) -> None:
        """Take the state a model call returned; delete spilled memories no longer used and
        mask prompts the state dropped. A half-drawn box is dropped: the prompts changed."""
        self.state = state
        self.view.pending_corner = None
        tidy_spill(state)
        held = mask_prompted(state)
        self.mask_prompts = {key: mask for key, mask in self.mask_prompts.items() if key in held}

    def prompts(self, obj_id: int, frame_idx: int) -> FramePrompts:
        return frame_prompts(self.state, obj_id, frame_idx, self.model.image_size)

    def prompted_frames(self) -> List[int]:
        return prompted_frames(self.state)

    def prompted_frames_of(self, obj_id: int) -> List[int]:
        return prompted_frames(self.state, obj_id)

    def mark_dirty(self, frame_idx: int) -> None:
        self.dirty_from = frame_idx if self.dirty_from is None else min(self.dirty_from, frame_idx)

    def tracked_frames(self) -> List[int]:
        """Frames of the window that have a mask of every object in the model."""
        return [f for f in self.masks.frames_with(self.state.obj_ids) if f in self.window]

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
        release(self.state)
        self.masks.clear()
        self.files.remove_all()
        release_free_memory()


def close_session(session: Optional[Session]) -> None:
    """Close ``session`` if there is one (what the page's per-tab state does when it is deleted)."""
    if session is not None:
        session.close()
