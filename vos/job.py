"""One VOS inference run: the model, the folders and the options; videos are done one at a
time, here or in a Ray task (``vos.on_ray``)."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Tuple, Union

import torch

from sam2.build_sam import build_sam2_video_predictor
from sam2.frames.video_file import VideoFileSource
from sam2.runtime.cpu_allocator import release_free_memory
from sam2.tracking import TrackerSettings

from .inference import Progress, VosOptions, segment_video, video_input
from .staging import Attempt, StagedVideo

# Errors of a video's inputs (missing frames or masks, objects only on later frames): reported
# for that video; retrying cannot mend them.
INPUT_ERRORS = (RuntimeError, FileNotFoundError, ValueError)


@dataclass(frozen=True)
class ModelSpec:
    """What ``build_sam2_video_predictor`` is given; ``tracker`` (a sam2.tracking name or
    settings) replaces the config's (None: the config's, SAM 2's own unless it has SAMURAI's
    keys)."""

    config: str
    checkpoint: str
    apply_postprocessing: bool = False
    vos_optimized: bool = False
    tracker: Optional[Union[str, TrackerSettings]] = None

    def build(self, overrides: Tuple[str, ...]):
        chosen = {} if self.tracker is None else {"tracker": self.tracker}
        return build_sam2_video_predictor(self.config, self.checkpoint, apply_postprocessing=self.apply_postprocessing,
                                          hydra_overrides_extra=list(overrides), vos_optimized=self.vos_optimized,
                                          **chosen)


@dataclass(frozen=True)
class VideoOutcome:
    """How one video went: frames written (where: host and device), attempts that died before,
    or the error."""

    name: str
    frames: int = 0
    seconds: float = 0.0
    where: str = ""
    died_attempts: Tuple[Attempt, ...] = ()
    error: Optional[str] = None

    def describe(self) -> str:
        retried = ""
        if self.died_attempts:
            retried = f" after {len(self.died_attempts)} attempt(s) that died (" + "; ".join(
                attempt.describe() for attempt in self.died_attempts) + ")"
        if self.error is not None:
            return f"{self.name}: failed{retried}: {self.error}"
        return f"{self.name}: {self.frames} frames written in {self.seconds:.1f} s on {self.where}{retried}"


@dataclass(frozen=True)
class VosJob:
    model: ModelSpec
    base_video_dir: Path
    input_mask_dir: Path
    output_mask_dir: Path
    options: VosOptions = field(default_factory=VosOptions)

    def build_predictor(self):
        return self.model.build(tuple(self.options.builder_overrides()))

    def run_video(self, predictor, name: str, progress: Progress = lambda done, total: None) -> VideoOutcome:
        """Track video ``name`` and move its masks into the output folder when all are written;
        ``progress(frames tracked, frames to track)`` after each frame. Input errors come back
        in the outcome; anything else propagates."""
        started = time.monotonic()
        staged = StagedVideo.begin(self.output_mask_dir, name)
        try:
            video = video_input(self.base_video_dir, name, VideoFileSource)
            try:
                # bf16 on GPUs, as the official script; float32 on CPUs.
                autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=predictor.device.type == "cuda")
                with torch.inference_mode(), autocast:
                    frames = segment_video(predictor, video, self.input_mask_dir, staged.staging_root,
                                           self.options, progress)
            finally:
                video.close()
                release_free_memory()  # the video's state is gone: its pages go back, video after video
        except INPUT_ERRORS as error:
            return VideoOutcome(name, died_attempts=staged.abandon(), error=str(error))
        except BaseException:
            staged.abandon()
            raise
        where = f"{socket.gethostname()} ({predictor.device})"
        return VideoOutcome(name, frames, time.monotonic() - started, where, staged.commit())
