"""How quickly the app answers on this machine: open, click-to-mask, Track-to-first-frame.

    python -m bench.app_latency                      # hiera-t 2.1 random weights, a shared 720p clip
    python -m bench.app_latency --image-size 512     # the app's SAM2_IMAGE_SIZE setting
    python -m bench.app_latency --device cuda        # on a GPU

Runs the app's own handlers (no browser) with the app's precision policy and prints seconds for:
opening the video (metadata + encoding frame 0), a click on the encoded frame until its mask is
drawn, a click on a new frame (encode + mask), Track until the first and the second tracked
frames are on screen, and the median seconds per frame over the first ``--frames`` frames.
"""

import argparse
import statistics
import time
from dataclasses import dataclass
from typing import Optional

import torch

from bench.media import random_checkpoint
from oracle.paths import SHARED_DATA
from sam2.runtime import attention
from sam2.runtime.cpu_allocator import tune_for_cpu_tracking
from tracker.actions import opening, prompting, tracking
from tracker.model.calls import ModelCalls
from tracker.model.loading import EngineCache
from tracker.settings import AppSettings


@dataclass(frozen=True)
class AppLatency:
    """Seconds the app's handlers took, each until the user sees the result."""

    open_video: float
    click: float
    next_click: float
    new_frame_click: float
    track_first_frame: float
    track_second_frame: float
    seconds_per_frame: float
    mean_seconds_per_frame: float
    description: str

    def report(self) -> str:
        return "\n".join([
            self.description,
            f"open video (metadata + frame 0 encoded): {self.open_video:.2f} s",
            f"click -> mask on the encoded frame:      {self.click:.2f} s (next click {self.next_click:.2f} s)",
            f"click -> mask on a new frame (encode):   {self.new_frame_click:.2f} s",
            f"Track -> first frame on screen:          {self.track_first_frame:.2f} s",
            f"Track -> second frame on screen:         {self.track_second_frame:.2f} s",
            f"tracking after the second frame, median: {self.seconds_per_frame:.2f} s per frame "
            f"(mean {self.mean_seconds_per_frame:.2f} s, with the overlay video's pieces)",
        ])


def timed(action):
    start = time.perf_counter()
    result = action()
    return result, time.perf_counter() - start


def measure(video: str, config: str, checkpoint: str, device: str = "cpu", image_size: Optional[int] = None,
            frames: int = 8) -> AppLatency:
    """Open ``video`` in the app's handlers, click twice on frame 0 and once on frame 5, then
    track ``frames`` frames (at least 3; the video needs that many)."""
    if frames < 3:
        raise ValueError("frames must be at least 3")
    flags = ["--checkpoint", checkpoint, "--config", config, "--device", device]
    settings = AppSettings.from_sources(flags + ([] if image_size is None else ["--image-size", str(image_size)]), {})
    calls = ModelCalls(EngineCache(settings))
    calls.engine()  # loaded before the page serves, as in the app

    session, open_seconds = timed(lambda: opening.open_video(calls, video))
    engine = calls.engine(session.model)
    height, width = session.video.size
    _, click_seconds = timed(lambda: prompting.click(calls, session, width / 2, height / 2, prompting.INCLUDE))
    _, second_click = timed(lambda: prompting.click(calls, session, width / 3, height / 3, prompting.EXCLUDE))
    _, new_frame_click = timed(lambda: prompting.click(calls, session, width / 2, height / 2, prompting.INCLUDE, 5))
    updates = tracking.track(calls, session, stream=True)  # the overlay video grows, as in the page
    start = time.perf_counter()
    shown = []  # seconds from Track until each frame is on screen
    for _ in range(frames):
        if next(updates, None) is None:
            break
        shown.append(time.perf_counter() - start)
    tracking.request_stop(session)
    for _ in updates:
        pass
    session.close()
    if len(shown) < 3:
        raise ValueError(f"the video has too few frames to time tracking ({len(shown)})")
    steps = [later - earlier for earlier, later in zip(shown[1:], shown[2:])]
    description = (f"video {video} ({width}x{height}), model {config} at {engine.predictor.image_size} px, "
                   f"{engine.precision_name} on {engine.predictor.device}")
    return AppLatency(open_seconds, click_seconds, second_click, new_frame_click, shown[0], shown[1],
                      statistics.median(steps), statistics.mean(steps), description)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", default=str(SHARED_DATA / "dog.mp4"))
    parser.add_argument("--config", default="sam2.1_hiera_t")
    parser.add_argument("--checkpoint", help="weights (default: seeded random weights)")
    parser.add_argument("--image-size", type=int,
                        help="model input resolution (default: the app's, see tracker.model.engine.default_image_size)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--frames", type=int, default=8, help="frames to track for the median seconds per frame")
    args = parser.parse_args()
    if args.frames < 3:
        parser.error("--frames must be at least 3")
    if torch.device(args.device).type == "cpu":
        tune_for_cpu_tracking()  # as the app does on the CPU
        attention.benchmark = True  # as the app does (on its first start: nothing remembered yet)
    checkpoint = args.checkpoint or str(random_checkpoint(args.config))
    try:
        latency = measure(args.video, args.config, checkpoint, args.device, args.image_size, args.frames)
    except ValueError as error:
        parser.error(str(error))
    print(latency.report())


if __name__ == "__main__":
    main()
