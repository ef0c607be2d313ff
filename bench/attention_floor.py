"""The fastest a tracked frame can be with this machine's matmul peak and torch's attention kernel.

    python -m bench.attention_floor                 # hiera-t 2.1, 720p, 2 objects, 8 tracked frames
    python -m bench.attention_floor --objects 3

Tracks the clip with our package under bf16 autocast, as ``bench.speed`` does: once timed,
once counting the dense FLOPs and every ``scaled_dot_product_attention`` call by shape. Then it replays each distinct
call on random bf16 tensors at its real width and at widths 16 and 32. The kernel's time is
about a + b * width: ``a`` is its softmax (scale, max, exp, sum and rescale of every score),
which grows with queries x keys and not with FLOPs; extrapolated to width 0 it is
2 * t(16) - t(32).

The floor of a frame is that softmax time plus all of the frame's FLOPs (dense and
attention) at the measured bf16 matmul peak: no frame decoding, layer norms, copies or other
passes. It prints the floor, the share of the peak a frame at the floor would reach, and our
measured time and share.
"""

import argparse
import statistics
import time
from pathlib import Path
from typing import Dict, List, Tuple

import torch
import torch.nn.functional as F

from bench.media import random_checkpoint
from bench.speed import cached_frames, cpu_model, matmul_peak
from bench.speed_worker import measure
from oracle.paths import SHARED_DATA

Shapes = Tuple[Tuple[int, ...], Tuple[int, ...], Tuple[int, ...]]  # query, key, value


def kernel_seconds(shapes: Shapes, width: int = 0, repeats: int = 3) -> float:
    """Median time of one bf16 attention call of ``shapes``, at ``width`` (0: as recorded)."""
    tensors = []
    for shape in shapes:
        resized = shape if width == 0 else (*shape[:-1], width)
        tensors.append(torch.randn(resized, dtype=torch.bfloat16))
    F.scaled_dot_product_attention(*tensors)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        F.scaled_dot_product_attention(*tensors)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def scores(shapes: Shapes) -> int:
    query, key, _ = shapes
    return torch.Size(query[:-1]).numel() * key[-2]


def track(frames: Path, checkpoint: Path, objects: int) -> Tuple[float, float, float, Dict[Shapes, int], int]:
    """Seconds per tracked frame, dense and attention FLOPs per tracked frame, the attention
    calls of the whole run and the number of tracked frames (``bench.speed``'s measurement)."""
    from sam2.build_sam import build_sam2_video_predictor

    predictor = build_sam2_video_predictor("sam2.1_hiera_t", str(checkpoint), device="cpu")
    predictor.fill_hole_area = 0
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        result, attention = measure(predictor, str(frames), objects, count_flops=True)
    seconds = result["frame_seconds"]
    return (
        float(seconds.mean()), float(result["dense_flops_per_frame"]), float(result["attention_flops_per_frame"]),
        dict(attention.calls), seconds.size,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", default=str(SHARED_DATA / "dog.mp4"), help="a 720p clip")
    parser.add_argument("--frames", type=int, default=8, help="tracked frames after the prompted one")
    parser.add_argument("--objects", type=int, default=2, choices=[1, 2, 3])
    args = parser.parse_args()

    print(f"CPU: {cpu_model()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}")
    frames = cached_frames(Path(args.video), args.frames + 1)
    ours, dense, attention, calls, tracked = track(frames, random_checkpoint("sam2.1_hiera_t"), args.objects)

    rows: List[Tuple[Shapes, int, float, float]] = []
    for shapes, count in calls.items():
        softmax = max(0.0, 2 * kernel_seconds(shapes, 16) - kernel_seconds(shapes, 32))
        rows.append((shapes, count, kernel_seconds(shapes), softmax))
    peak = matmul_peak(torch.bfloat16)

    kernel = sum(count * full for _, count, full, _ in rows) / tracked
    softmax = sum(count * part for _, count, _, part in rows) / tracked
    total_scores = sum(count * scores(shapes) for shapes, count, _, _ in rows) / tracked
    flops = dense + attention
    floor = softmax + flops / peak
    print(f"bf16 matmul peak: {peak / 1e12:.2f} TFLOP/s")
    print(f"\nours, bf16, {args.objects} object(s), {tracked} tracked frames; per tracked frame:")
    print(f"  measured time             {ours:.3f} s")
    print(f"  FLOPs                     {flops / 1e12:.3f} T (dense {dense / 1e12:.3f}, attention {attention / 1e12:.3f})")
    print(f"  attention scores          {total_scores / 1e9:.2f} G")
    print(f"  attention kernel, replayed {kernel:.3f} s, of which softmax {softmax:.3f} s "
          f"({total_scores / softmax / 1e9:.2f} G scores/s)")
    print(f"  floor = softmax + FLOPs at the peak = {softmax:.3f} + {flops / peak:.3f} = {floor:.3f} s")
    print(f"  share of the peak: at the floor {flops / floor / peak:.0%}, measured {flops / ours / peak:.0%}")

    print("\nattention calls, most time first (per tracked frame):")
    print("| query | key | calls | kernel ms | softmax ms |")
    print("|---|---|---|---|---|")
    for shapes, count, full, part in sorted(rows, key=lambda row: -row[1] * row[2])[:12]:
        print(f"| {shapes[0]} | {shapes[1]} | {count / tracked:.2f} | {count * full / tracked * 1e3:.1f} | "
              f"{count * part / tracked * 1e3:.1f} |")


if __name__ == "__main__":
    main()
