"""Track one object through a long video straight from the file; report time and memory.

    python -m bench.long_video --frames 300            # hiera-t 2.1, 720p, sam2.runtime.precision's dtype
    python -m bench.long_video --frames 300 --model edgetam
    python -m bench.long_video --frames 3000 --video my.mp4 --checkpoint sam2.1_hiera_tiny.pt
    python -m bench.long_video --frames 300 --keep-freed-memory   # with the app's allocator opt-in

A plain user's process by default: the official API only, nothing process-wide changed.
Prints init_state time, resident memory at frame 100 and at the end, memory growth per frame
between them (and the least-squares slope over every sample from frame 100), what glibc's heap
held then (in use, kept free, mmapped: live data against a fragmented heap), peak resident
memory, and the median seconds per frame early and late.
"""

import argparse
import math
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable, ContextManager, Dict, List, Optional

import numpy as np
import torch

from bench.media import long_video, random_checkpoint
from bench.speed_worker import peak_memory_mb, synchronize
from oracle.metrics import HeapUse, glibc_heap, resident_mb
from sam2.build_sam import build_sam2_video_predictor
from sam2.runtime.cpu_allocator import tune_for_cpu_tracking
from sam2.runtime.precision import autocast_context, fastest_safe_dtype


def device_memory_mb(device) -> float:
    """MiB in use on ``device``: allocated GPU memory on CUDA, this process's resident set elsewhere."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.memory_allocated(device) / 2**20
    return resident_mb()


@dataclass
class LongVideoRun:
    """One object tracked through a whole video: timings and memory in use along the way."""

    num_frames: int
    width: int
    height: int
    init_seconds: float
    frame_seconds: List[float]  # per yielded frame, frame 0 included
    memory_mb: Dict[int, float]  # frame index -> device_memory_mb after that frame
    heap: Dict[int, Optional[HeapUse]] = field(default_factory=dict)  # frame index -> glibc's heap then

    @property
    def last(self) -> int:
        return self.num_frames - 1

    def growth_kib_per_frame(self, start: int) -> float:
        """KiB added per frame from frame ``start`` to the last one (NaN if ``start`` was not sampled)."""
        if start not in self.memory_mb:
            return float("nan")
        return (self.memory_mb[self.last] - self.memory_mb[start]) * 1024 / max(self.last - start, 1)

    def slope_kib_per_frame(self, start: int) -> float:
        """Least-squares growth in KiB per frame over every sample from frame ``start`` on
        (NaN with fewer than 3): less at the mercy of where one sample falls in a frame."""
        frames = [frame for frame in self.memory_mb if frame >= start]
        if len(frames) < 3:
            return float("nan")
        return float(np.polyfit(frames, [self.memory_mb[frame] for frame in frames], 1)[0] * 1024)


def track_long_video(
    predictor, video: str, autocast: ContextManager, sample_every: int = 50,
    on_sample: Optional[Callable[[int, "LongVideoRun"], None]] = None,
) -> LongVideoRun:
    """Track one object, clicked at the centre of frame 0, through ``video`` under ``autocast``.

    Memory in use on the predictor's device is sampled after frame 0, every ``sample_every``
    frames and after the last frame; ``on_sample(frame_idx, run)`` is called after each sample.
    """
    device = predictor.device
    with autocast:
        start = time.perf_counter()
        state = predictor.init_state(video_path=video)
        run = LongVideoRun(
            state["num_frames"], state["video_width"], state["video_height"], time.perf_counter() - start, [], {}
        )
        predictor.add_new_points_or_box(state, 0, 1, points=[[run.width / 2, run.height / 2]], labels=[1])
        tick = time.perf_counter()
        for frame_idx, _, _ in predictor.propagate_in_video(state):
            synchronize(device)
            now = time.perf_counter()
            run.frame_seconds.append(now - tick)
            tick = now
            if frame_idx % sample_every == 0 or frame_idx == run.last:
                run.memory_mb[frame_idx] = device_memory_mb(device)
                run.heap[frame_idx] = glibc_heap()
                if on_sample is not None:
                    on_sample(frame_idx, run)
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=300, help="length of the generated video")
    parser.add_argument("--video", help="use this video file instead of a generated one")
    parser.add_argument("--model", "--config", dest="model", default="sam2.1_hiera_t",
                        help="preset or official config name: sam2.1_hiera_t, edgetam, efficienttam_ti_512x512, ...")
    parser.add_argument("--checkpoint", help="weights (default: seeded random weights)")
    parser.add_argument(
        "--precision", choices=["auto", "bf16", "fp32"], default="auto",
        help="auto: what sam2.runtime.precision picks for this CPU (bf16 with AMX or AVX512-BF16, else fp32)",
    )
    parser.add_argument("--image-size", type=int, help="model input size (default: the model's 1024)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--keep-freed-memory", action="store_true",
                        help="opt in to sam2.runtime.cpu_allocator.tune_for_cpu_tracking() first, as the app does on the CPU")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    opted_in = args.keep_freed_memory and tune_for_cpu_tracking()
    video = args.video or str(long_video(args.frames))
    checkpoint = args.checkpoint or str(random_checkpoint(args.model))
    overrides = [f"++model.image_size={args.image_size}"] if args.image_size else []
    predictor = build_sam2_video_predictor(args.model, checkpoint, device="cpu", hydra_overrides_extra=overrides)
    dtype = {"auto": fastest_safe_dtype("cpu"), "bf16": torch.bfloat16, "fp32": None}[args.precision]
    precision = "bf16" if dtype == torch.bfloat16 else "fp32"
    baseline = resident_mb()

    def progress(frame_idx: int, run: LongVideoRun) -> None:
        if frame_idx % 50 == 0:
            print(f"frame {frame_idx}/{run.num_frames}: {run.frame_seconds[-1]:.2f} s, "
                  f"{run.memory_mb[frame_idx]:.0f} MiB", flush=True)

    run = track_long_video(predictor, video, autocast_context("cpu", dtype), sample_every=10, on_sample=progress)
    early, late = run.frame_seconds[20:40], run.frame_seconds[-20:]
    print()
    print(
        f"video: {video} ({run.num_frames} frames, {run.width}x{run.height}); model {args.model} "
        f"at {predictor.image_size} px, {precision}, allocator {'opt-in (keeps freed memory)' if opted_in else 'as found'}"
    )
    print(f"init_state:                  {run.init_seconds:.2f} s")
    print(f"resident before init_state:  {baseline:.0f} MiB")
    print(f"resident at frame 100:       {run.memory_mb.get(100, math.nan):.0f} MiB")
    print(f"resident at the end:         {run.memory_mb[run.last]:.0f} MiB")
    print(f"growth per frame (100..end): {run.growth_kib_per_frame(100):.1f} KiB")
    print(f"least-squares slope (100..): {run.slope_kib_per_frame(100):.1f} KiB per frame")
    for frame in (100, run.last):
        heap = run.heap.get(frame)
        if heap is not None:
            print(f"glibc heap at frame {frame}:{' ' * max(6 - len(str(frame)), 0)} in use {heap.in_use_mb:.0f} MiB, "
                  f"kept free {heap.free_mb:.0f} MiB, mmapped {heap.mapped_mb:.0f} MiB")
    print(f"peak resident:               {peak_memory_mb(predictor.device):.0f} MiB")
    print(f"median s/frame, frames 20-40: {statistics.median(early):.3f}")
    print(f"median s/frame, last 20:      {statistics.median(late):.3f}")
    print(f"late / early:                 {statistics.median(late) / statistics.median(early):.3f}")


if __name__ == "__main__":
    main()
