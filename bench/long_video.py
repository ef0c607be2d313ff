"""Track one object through a long video straight from the file; report time and memory.

    python -m bench.long_video --frames 300            # hiera-t 2.1, 720p, sam2.precision's dtype
    python -m bench.long_video --frames 3000 --video my.mp4 --checkpoint sam2.1_hiera_tiny.pt

Prints init_state time, resident memory at frame 100 and at the end, memory growth per frame
between them, peak resident memory, and the median seconds per frame early and late.
"""

import argparse
import resource
import statistics
import time

import torch

from bench.media import long_video, random_checkpoint
from sam2.build_sam import build_sam2_video_predictor
from sam2.precision import autocast_context, fastest_safe_dtype


def resident_mb() -> float:
    """Current resident set size of this process in MiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("VmRSS not found")


def peak_resident_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=300, help="length of the generated video")
    parser.add_argument("--video", help="use this video file instead of a generated one")
    parser.add_argument("--config", default="sam2.1_hiera_t")
    parser.add_argument("--checkpoint", help="weights (default: seeded random weights)")
    parser.add_argument(
        "--precision", choices=["auto", "bf16", "fp32"], default="auto",
        help="auto: what sam2.precision picks for this CPU (bf16 with AMX or AVX512-BF16, else fp32)",
    )
    parser.add_argument("--image-size", type=int, help="model input size (default: the model's 1024)")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    video = args.video or str(long_video(args.frames))
    checkpoint = args.checkpoint or str(random_checkpoint(args.config))
    overrides = [f"++model.image_size={args.image_size}"] if args.image_size else []
    predictor = build_sam2_video_predictor(args.config, checkpoint, device="cpu", hydra_overrides_extra=overrides)
    dtype = {"auto": fastest_safe_dtype("cpu"), "bf16": torch.bfloat16, "fp32": None}[args.precision]
    precision = "bf16" if dtype == torch.bfloat16 else "fp32"
    autocast = autocast_context("cpu", dtype)
    baseline = resident_mb()
    with autocast:
        start = time.perf_counter()
        state = predictor.init_state(video_path=video)
        init_seconds = time.perf_counter() - start
        height, width = state["video_height"], state["video_width"]
        predictor.add_new_points_or_box(state, 0, 1, points=[[width / 2, height / 2]], labels=[1])
        seconds, memory = [], {}
        tick = time.perf_counter()
        for frame_idx, _, _ in predictor.propagate_in_video(state):
            now = time.perf_counter()
            seconds.append(now - tick)
            tick = now
            if frame_idx in (100, state["num_frames"] - 1):
                memory[frame_idx] = resident_mb()
            if frame_idx % 50 == 0:
                print(f"frame {frame_idx}/{state['num_frames']}: {seconds[-1]:.2f} s, {resident_mb():.0f} MiB", flush=True)

    last = state["num_frames"] - 1
    early, late = seconds[20:40], seconds[-20:]
    growth_kb = (memory[last] - memory[100]) * 1024 / max(last - 100, 1) if 100 in memory else float("nan")
    print()
    print(
        f"video: {video} ({state['num_frames']} frames, {width}x{height}); model {args.config} "
        f"at {predictor.image_size} px, {precision}"
    )
    print(f"init_state:                  {init_seconds:.2f} s")
    print(f"resident before init_state:  {baseline:.0f} MiB")
    print(f"resident at frame 100:       {memory.get(100, float('nan')):.0f} MiB")
    print(f"resident at the end:         {memory[last]:.0f} MiB")
    print(f"growth per frame (100..end): {growth_kb:.1f} KiB")
    print(f"peak resident:               {peak_resident_mb():.0f} MiB")
    print(f"median s/frame, frames 20-40: {statistics.median(early):.3f}")
    print(f"median s/frame, last 20:      {statistics.median(late):.3f}")
    print(f"late / early:                 {statistics.median(late) / statistics.median(early):.3f}")


if __name__ == "__main__":
    main()
