"""One browser session: its video, objects, prompts and tracking state (no Gradio here)."""

import shutil
import tempfile
import threading
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from sam2.frame_source import FrameSource
from sam2.video_state import InferenceState

from .overlay import Click
from .settings import Limits

Box = Tuple[float, float, float, float]


def new_work_dir() -> Path:
    """A private folder for one session's own files."""
    return Path(tempfile.mkdtemp(prefix="sam2-session-"))


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
    """Everything one user works on. ``state`` is the predictor's session state."""

    video_name: str
    state: InferenceState
    fps: float
    limits: Limits = field(default_factory=Limits)
    notices: List[str] = field(default_factory=list)
    objects: Dict[int, ObjectPrompts] = field(default_factory=dict)
    current_obj_id: int = 1
    pending_corner: Optional[Tuple[float, float]] = None
    # The earliest frame whose prompts changed since the last tracking run (None: up to date).
    dirty_from: Optional[int] = None
    stop_requested: threading.Event = field(default_factory=threading.Event)
    work_dir: Path = field(default_factory=new_work_dir)

    def __post_init__(self) -> None:
        self.objects.setdefault(self.current_obj_id, ObjectPrompts(self.current_obj_id))
        weakref.finalize(self, shutil.rmtree, str(self.work_dir), True)

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
        return sorted(set.intersection(*reached))

    def backward_start(self) -> Optional[int]:
        """Where a backward pass must begin so that every object is tracked back to frame 0: the
        latest first prompt (the predictor tracks backward only from a frame after 0), or None
        when all objects already reach frame 0."""
        reached = {obj.obj_id: set(obj.frames_tracked) | set(obj.cond_outputs) for obj in self.state.objects}
        firsts = [min(obj.frames()) for obj in self.objects.values() if obj.frames() and 0 not in reached.get(obj.obj_id, ())]
        return max(firsts) if firsts and max(firsts) > 0 else None

    def close(self) -> None:
        """Free the video, the predictor state and the session's files."""
        self.frames.close()
        shutil.rmtree(self.work_dir, ignore_errors=True)
