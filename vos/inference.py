"""Semi-supervised VOS with a SAM 2 video predictor: given masks in, masks for every frame out.

A video is a folder of JPEG frames (``<frame>.jpg``, named by integer) or a video file
(frames named ``00000``, ``00001``, ...). Two modes, as the official ``tools/vos_inference.py``:

* together: every object has a mask on the first input frame; all objects are tracked in one
  session (an object first given on a later frame is an error that names the other mode);
* per object (``track_object_appearing_later_in_video``): each object is tracked alone from the
  first frame with its mask; outside the per-object layout, overlaps go to the highest score.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import numpy as np
import torch

from sam2.modeling.sam2_base import NO_OBJ_SCORE

from .mask_files import Masks, VideoMasks, davis_palette

# Only names of the official API are used here, so the reference package can be driven too.
JPEG_EXTENSIONS = (".jpg", ".jpeg")
VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi")
LATER_OBJECTS_ADVICE = (
    "add --track_object_appearing_later_in_video for datasets whose objects do not all appear "
    "on the first frame (such as LVOS or YouTube-VOS)"
)


@dataclass(frozen=True)
class VosOptions:
    score_thresh: float = 0.0
    use_all_masks: bool = False
    per_obj_png_file: bool = False
    track_object_appearing_later_in_video: bool = False

    def builder_overrides(self) -> List[str]:
        """Objects may not overlap in one indexed PNG; per-object files keep each object whole."""
        return [f"++model.non_overlap_masks={'false' if self.per_obj_png_file else 'true'}"]


@dataclass(frozen=True)
class VideoInput:
    """A video's frames and their names. ``source`` is a JPEG folder (a Path: the predictor
    opens it) or a video file the caller opened (a frame source with ``num_frames``, handed to
    ``init_state`` as it is, so the file is read once)."""

    name: str
    source: Any
    frames: List[str]

    @property
    def state_input(self) -> Any:
        """What ``init_state`` is given."""
        return str(self.source) if isinstance(self.source, Path) else self.source

    def close(self) -> None:
        """Close a video file the caller opened."""
        if not isinstance(self.source, Path):
            self.source.close()


def video_input(base_dir: Path, name: str, open_video: Callable[[Path], Any]) -> VideoInput:
    """The video ``name`` under ``base_dir``: a folder of JPEGs, else ``<name>.<video ext>``
    opened with ``open_video``."""
    folder = Path(base_dir) / name
    if folder.is_dir():
        stems = [os.path.splitext(f)[0] for f in os.listdir(folder) if os.path.splitext(f)[1].lower() in JPEG_EXTENSIONS]
        return VideoInput(name, folder, sorted(stems, key=int))
    for extension in VIDEO_EXTENSIONS:
        path = Path(base_dir) / f"{name}{extension}"
        if path.is_file():
            frames = open_video(path)
            return VideoInput(name, frames, [f"{index:05d}" for index in range(frames.num_frames)])
    raise FileNotFoundError(f"no JPEG folder or video file named {name!r} in {base_dir}")


def video_names(base_dir: Path, list_file: Optional[Path] = None) -> List[str]:
    """The names in ``list_file`` (one per line), else every JPEG folder and video file."""
    if list_file is not None:
        return [line.strip() for line in Path(list_file).read_text().splitlines() if line.strip()]
    names = set()
    for entry in os.listdir(base_dir):
        path = Path(base_dir) / entry
        if path.is_dir() or path.suffix.lower() in VIDEO_EXTENSIONS:
            names.add(path.stem if path.is_file() else entry)
    return sorted(names)


def _threshold(logits: torch.Tensor, thresh: float) -> np.ndarray:
    return (logits > thresh).cpu().numpy()


def _one_object_per_pixel(scores: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W) logits; at each pixel all but the highest object are lowered to <= -10."""
    best = scores.argmax(dim=0, keepdim=True)
    mine = torch.arange(len(scores))[:, None, None, None] == best
    return torch.where(mine, scores, scores.clamp(max=-10.0))


# progress(frames tracked, frames to track); an object tracked alone counts its own frames.
Progress = Callable[[int, int], None]


def track_together(predictor, state, video: VideoInput, inputs: VideoMasks, options: VosOptions,
                   progress: Progress) -> Iterator[Tuple[int, Masks]]:
    """(frame index, object masks) as each frame is tracked, all objects in one session: the
    caller writes them as they come, so memory does not grow with the video (a tracker that
    revises frames when its run ends, SAM2Long, gives those frames again: written over)."""
    if options.use_all_masks:
        prompted = [i for i, frame in enumerate(video.frames) if inputs.has_frame(frame)]
        if not prompted:
            raise RuntimeError(f"{video.name}: no input masks in {inputs.folder}")
    else:
        prompted = [0]
    objects = None
    for frame_idx in prompted:
        masks, _ = inputs.read(video.frames[frame_idx])
        objects = set(masks) if objects is None else objects
        if not masks or set(masks) - objects:
            raise RuntimeError(f"{video.name}: objects {sorted(set(masks) - objects) or 'none'} on frame "
                               f"{video.frames[frame_idx]} but not on the first input frame; {LATER_OBJECTS_ADVICE}")
        for obj, mask in masks.items():
            predictor.add_new_mask(state, frame_idx, obj, mask)
    done = set()
    for frame_idx, obj_ids, logits in predictor.propagate_in_video(state):
        yield frame_idx, {obj: _threshold(logits[i], options.score_thresh) for i, obj in enumerate(obj_ids)}
        done.add(frame_idx)
        progress(len(done), len(video.frames) - min(prompted))


def track_each_object(predictor, state, video: VideoInput, inputs: VideoMasks, options: VosOptions,
                      progress: Progress) -> Iterator[Tuple[int, Masks]]:
    """(frame index, object masks), each object tracked alone from its first given mask; the
    masks come once every object is tracked (overlaps go to the highest score)."""
    given: Dict[int, Dict[int, np.ndarray]] = defaultdict(dict)
    for frame_idx, frame in enumerate(video.frames):
        for obj, mask in inputs.read(frame)[0].items():
            if mask.any() and (options.use_all_masks or not given[obj]):
                given[obj][frame_idx] = mask
    objects = sorted(given)
    to_track = sum(len(video.frames) - min(given[obj]) for obj in objects)
    logits: Dict[int, Dict[int, torch.Tensor]] = defaultdict(dict)
    tracked = 0
    for obj in objects:
        predictor.reset_state(state)
        for frame_idx, mask in given[obj].items():
            predictor.add_new_mask(state, frame_idx, obj, mask)
        for frame_idx, _, frame_logits in predictor.propagate_in_video(state, start_frame_idx=min(given[obj])):
            tracked += frame_idx not in logits or obj not in logits[frame_idx]
            logits[frame_idx][obj] = frame_logits[0].cpu()  # a frame given again (SAM2Long) is revised
            progress(tracked, to_track)
    shape = (1, state["video_height"], state["video_width"])
    for frame_idx in range(len(video.frames)):
        scores = torch.stack([logits.pop(frame_idx, {}).get(obj, torch.full(shape, NO_OBJ_SCORE)) for obj in objects])
        if not options.per_obj_png_file:
            scores = _one_object_per_pixel(scores)
        yield frame_idx, {obj: _threshold(scores[i], options.score_thresh) for i, obj in enumerate(objects)}


def segment_video(predictor, video: VideoInput, input_root: Path, output_root: Path, options: VosOptions,
                  progress: Progress = lambda done, total: None) -> int:
    """Track the objects of ``video`` from its masks under ``input_root`` and write the masks
    of every tracked frame under ``output_root`` (same layout). Returns frames written."""
    inputs = VideoMasks(input_root, video.name, options.per_obj_png_file)
    outputs = VideoMasks(output_root, video.name, options.per_obj_png_file)
    state = predictor.init_state(video.state_input)
    track = track_each_object if options.track_object_appearing_later_in_video else track_together
    first_input = next((frame for frame in video.frames if inputs.has_frame(frame)), None)
    palette = inputs.read(first_input)[1] if first_input is not None else None
    shape = (state["video_height"], state["video_width"])
    written = set()
    for frame_idx, masks in track(predictor, state, video, inputs, options, progress):
        outputs.folder.mkdir(parents=True, exist_ok=True)  # not before the inputs are known good
        outputs.write(video.frames[frame_idx], masks, shape, palette or davis_palette())
        written.add(frame_idx)
    return len(written)
