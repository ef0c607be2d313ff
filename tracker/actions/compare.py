"""Compare: the session's prompts through another model over the window, both overlays side
by side in one video, the IoU between them per object and frame, and each model's speed."""

import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Generator, Iterator, List, Optional, Tuple, Union

import cv2
import numpy as np
from sam2.tracking import TRACKER_NAMES, tracker_settings

from ..errors import UserError
from ..media.overlay import FONT, draw_legend, draw_masks, fit_text
from ..media.video_io import write_mp4
from ..model.calls import ModelCalls, ModelChoice, TrackDone
from ..model.mask_store import MaskStore
from ..sessions.session import Session, TrackSpeed
from .replay import replay
from .track_plan import track_runs

# Each half of the side-by-side video is this wide at most, and at least (small videos are
# scaled up, so that the model's name fits above them).
HALF_WIDTH = 960
MIN_HALF_WIDTH = 480
CAPTION_HEIGHT = 36
CAPTION_SCALE = 0.7


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two (H, W) bool masks; 1.0 when both are empty (they agree)."""
    union = np.count_nonzero(a | b)
    return 1.0 if union == 0 else np.count_nonzero(a & b) / union


@dataclass(frozen=True)
class Comparison:
    """The two models' names, the side-by-side video, the IoU table (``headers`` then one row
    per frame: frame number, then one IoU per object; the mean over frames first), and how fast
    each tracked: the session's model in its last Track (None: not measured on this model),
    the other in this comparison."""

    models: tuple
    video: Path
    headers: List[str]
    rows: List[list]
    speeds: Tuple[Optional[TrackSpeed], TrackSpeed]

    @property
    def text(self) -> str:
        mean = ", ".join(f"{h} {v:.3f}" for h, v in zip(self.headers[1:], self.rows[0][1:]))
        ours, theirs = self.speeds
        ours_text = f"{ours.text} (its last Track)" if ours is not None else "not measured (Track again to measure)"
        return (f"{self.models[0]} vs {self.models[1]}: mean IoU per object: {mean}.\n\n"
                f"Tracking speed:\n- {self.models[0]}: {ours_text}\n- {self.models[1]}: {theirs.text} (this comparison)")


def run_name(calls: ModelCalls, model: ModelChoice) -> str:
    """The model's name, and its tracker's where it is not SAM 2's own, e.g. "SAM 2.1 tiny + SAMURAI"."""
    name = calls.engine(model).name
    return name if model.tracker == TRACKER_NAMES[0] else f"{name} + {tracker_settings(model.tracker).title}"


def iou_rows(session: Session, theirs: MaskStore, frames: List[int]) -> List[list]:
    """One row per frame (frame, IoU per object of the session), the mean row first."""
    ids = session.objects.ids
    rows, empty = [], np.zeros(session.video.size, dtype=bool)
    for frame_idx in frames:
        ours, other = session.masks.unpacked(frame_idx), theirs.unpacked(frame_idx)
        rows.append([frame_idx, *(round(iou(ours.get(i, empty), other.get(i, empty)), 4) for i in ids)])
    means = np.mean([row[1:] for row in rows], axis=0) if rows else np.zeros(len(ids))
    return [["mean", *(round(float(m), 4) for m in means)], *rows]


def _captioned(frame: np.ndarray, caption: str) -> np.ndarray:
    """The frame, MIN_HALF_WIDTH to HALF_WIDTH wide, over a dark caption bar (at the bottom:
    the player's label covers the top-left corner)."""
    height, width = frame.shape[:2]
    target = min(max(width, MIN_HALF_WIDTH), HALF_WIDTH)
    if target != width:
        interpolation = cv2.INTER_AREA if target < width else cv2.INTER_LINEAR
        frame = cv2.resize(frame, (target, round(height * target / width)), interpolation=interpolation)
    bar = np.full((CAPTION_HEIGHT, frame.shape[1], 3), 24, dtype=np.uint8)
    caption = fit_text(caption, frame.shape[1] - 16, CAPTION_SCALE)
    cv2.putText(bar, caption, (8, CAPTION_HEIGHT - 11), FONT, CAPTION_SCALE, (255, 255, 255), 1, cv2.LINE_AA)
    return np.vstack([frame, bar])


def side_by_side(session: Session, theirs: MaskStore, models: tuple, frames: List[int], path: Path) -> Path:
    legend = [(obj_id, session.objects.name(obj_id)) for obj_id in session.objects.ids]

    def pair(frame_idx: int) -> np.ndarray:
        image = session.frames.read_rgb(frame_idx)
        halves = [draw_legend(draw_masks(image, store.unpacked(frame_idx)), legend) for store in (session.masks, theirs)]
        return np.hstack([_captioned(half, f"{frame_idx}: {name}") for half, name in zip(halves, models)])

    return write_mp4(path, (pair(f) for f in frames), session.video.fps)


def compare(calls: ModelCalls, session: Session, other: ModelChoice) -> Iterator[Union[str, Comparison]]:
    """Progress lines while ``other`` tracks the window from the session's prompts, then the
    Comparison (over the frames both have). Stop ends the run early; what was tracked is compared."""
    frames = session.tracked_frames()
    if not frames or session.dirty_from is not None:
        raise UserError("Track the objects first (to the end, after the last change): Compare runs the same "
                        "prompts through another model and compares the masks frame by frame.")
    models = (run_name(calls, session.model), run_name(calls, other))
    if models[0] == models[1]:
        raise UserError("Choose another model, input size or tracker to compare with.")
    spill_dir = Path(tempfile.mkdtemp(prefix="compare-spill-", dir=session.files.work_dir))
    try:
        yield f"Compare: {models[1]} reads the prompts..."
        replayed = replay(calls, session, other, spill_dir)
        theirs = replayed.masks
        began = time.monotonic()
        tracked = yield from _track(calls, session, other, replayed.state, theirs, models[1])
        speed = TrackSpeed(other, tracked, time.monotonic() - began)
        theirs_frames = set(theirs.frames_with(session.state.obj_ids))
        both = [f for f in frames if f in theirs_frames]
        yield f"Compare: writing the side-by-side video of {len(both)} frames..."
        video = session.files.publish(f"{Path(session.video.name).stem}_compare.mp4",
                                      lambda path: side_by_side(session, theirs, models, both, path))
        ours = session.last_track if session.last_track and session.last_track.model == session.model else None
        yield Comparison(models, video,
                         ["frame", *(session.objects.label(i) for i in session.objects.ids)],
                         iou_rows(session, theirs, both), (ours, speed))
    finally:
        shutil.rmtree(spill_dir, ignore_errors=True)


def _track(calls: ModelCalls, session: Session, model: ModelChoice, state, theirs: MaskStore,
           name: str) -> Generator[str, None, int]:
    """Track ``state`` over the session's window into ``theirs``, a progress line per frame;
    returns the number of frames tracked."""
    per_call = calls.frames_per_track_call(len(state.obj_ids))
    runs = track_runs(state, session.window, None, per_call)
    stop = session.files.stop
    stop.clear()
    total, done = sum(run.count for run in runs), 0
    for run in runs:
        for event in calls.track(model, state, run, stop):
            if isinstance(event, TrackDone):
                state = event.state
                continue
            theirs.put(event.frame_idx, event.masks)
            if event.revised:
                continue
            done += 1
            yield f"Compare: {name} tracked frame {event.frame_idx} ({done} of {total})"
        if stop.requested:
            break
    return done
