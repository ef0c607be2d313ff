"""Time one tracking run through one implementation: ours or an official package.

Run by ``bench/speed.py`` in a subprocess, never imported by it: the official packages are
called ``sam2`` too (EfficientTAM's ``efficient_track_anything``), and PYTHONPATH decides which
one is imported. Only the public API is used, as ``oracle.implementations`` spells it for each.

    PYTHONPATH=... python bench/speed_worker.py --frames DIR --checkpoint W.pt --config edgetam \
        --objects 2 --precision bf16 --out result.npz [--count-flops] [--implementation ours] \
        [--device cuda] [--vos-optimized] [--warmup-frames N] [--image-size S]

The run: a short warm-up session (``--warmup-frames`` tracked frames; it also absorbs the
compilation of ``--vos-optimized``, the official builder flag); then a new session (init_state on
a folder of JPEG frames), one click per object on frame 0 and a timed propagation over every
frame. An official predictor that cannot track several objects together (EdgeTAM's) tracks each
object in a session of its own, and a frame's time is the sum over those sessions: what tracking
all the objects costs with that code. Writes seconds per tracked frame, the warm-up seconds, the
peak memory of the timed session (allocated GPU memory on CUDA; the process's peak resident set
on CPU), the masks (bit-packed) and, with --count-flops, the FLOPs of one more propagation:
``torch.utils.flop_counter`` plus every ``scaled_dot_product_attention`` call, which that
counter does not see on CPU.
"""

import argparse
import collections
import contextlib
import json
import time
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

# The checkout comes after the package under test on PYTHONPATH (see bench.speed.run_worker):
# these modules import no ``sam2`` at import time.
from oracle import implementations
from oracle.metrics import peak_resident_mb

# Click positions (fractions of width, height), one per object.
CLICKS = ((0.50, 0.55), (0.25, 0.40), (0.75, 0.40))
# Four tracked frames meet every size class of the memory bank (with SAM2_ATTENTION_BENCHMARK=1
# attention kernels are timed per class on their first call; see sam2.runtime.attention), so
# none is timed in the timed session.
WARMUP_FRAMES = 4


class AttentionFlops:
    """Counts the FLOPs of scaled_dot_product_attention calls while installed, and the calls
    by (query, key, value) shapes.

    Whatever ``counter`` sees inside those calls (some torch versions decompose them into
    matmuls it counts, others run a fused kernel it does not) is tallied in ``seen_by_counter``
    so that the caller can take it out of the counter's total instead of counting it twice.
    """

    def __init__(self, counter: FlopCounterMode) -> None:
        self.flops = 0
        self.seen_by_counter = 0
        self.calls: Dict[Tuple[Tuple[int, ...], ...], int] = collections.Counter()
        self._counter = counter
        self._original = F.scaled_dot_product_attention

    def _counting(self, query, key, value, *args, **kwargs):
        self.calls[(tuple(query.shape), tuple(key.shape), tuple(value.shape))] += 1
        batch_heads = query.shape[:-2].numel()
        queries, width = query.shape[-2:]
        keys, value_width = key.shape[-2], value.shape[-1]
        self.flops += 2 * batch_heads * queries * keys * (width + value_width)
        before = self._counter.get_total_flops()
        out = self._original(query, key, value, *args, **kwargs)
        self.seen_by_counter += self._counter.get_total_flops() - before
        return out

    def __enter__(self) -> "AttentionFlops":
        F.scaled_dot_product_attention = self._counting
        return self

    def __exit__(self, *exc) -> None:
        F.scaled_dot_product_attention = self._original


def fused_linear_flops(input_shape, weight_shape, *args, **kwargs) -> int:
    """FLOPs of oneDNN's fused linear (our package's bf16 CPU path), which the counter's
    own table does not list: 2 * tokens * in_features * out_features."""
    tokens = 1
    for size in input_shape[:-1]:
        tokens *= size
    return 2 * tokens * weight_shape[1] * weight_shape[0]


def flop_counter() -> FlopCounterMode:
    custom = {}
    if hasattr(torch.ops.mkldnn, "_linear_pointwise"):
        custom[torch.ops.mkldnn._linear_pointwise] = fused_linear_flops
    return FlopCounterMode(display=False, custom_mapping=custom)


def synchronize(device: torch.device) -> None:
    """Wait for the GPU's queued work (no-op elsewhere), so that a clock reading covers it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def reset_peak_memory(device: torch.device) -> None:
    """Start a new peak for :func:`peak_memory_mb` on CUDA (the CPU's peak resident set cannot be reset)."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_mb(device: torch.device) -> float:
    """MiB: peak allocated GPU memory since the last reset on CUDA, else the process's peak resident set."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return peak_resident_mb()


def prompt(predictor, state, objects: List[int]) -> None:
    """One click per object (ids 1, 2, ... at fixed places) on frame 0."""
    width, height = state["video_width"], state["video_height"]
    for obj_id in objects:
        fx, fy = CLICKS[obj_id - 1]
        point = np.array([[fx * width, fy * height]], dtype=np.float32)
        predictor.add_new_points_or_box(state, 0, obj_id, points=point, labels=np.array([1], np.int32))


def propagate(predictor, state, max_frames=None):
    """Yields (frame_idx, seconds since the previous frame, masks (N, H, W) bool)."""
    last = time.perf_counter()
    for frame_idx, _, logits in predictor.propagate_in_video(state, max_frame_num_to_track=max_frames):
        masks = (logits[:, 0] > 0).cpu().numpy()
        now = time.perf_counter()
        yield frame_idx, now - last, masks
        last = now


def sessions(objects: int, together: bool) -> List[List[int]]:
    """The object ids of each session: all in one, or one object per session."""
    ids = list(range(1, objects + 1))
    return [ids] if together else [[obj_id] for obj_id in ids]


def timed_sessions(predictor, frames: str, groups: List[List[int]]) -> Tuple[np.ndarray, np.ndarray]:
    """Seconds per tracked frame summed over the sessions, and masks (frames, objects, H, W)."""
    frame_seconds, masks = None, []
    for objects in groups:
        state = predictor.init_state(frames)
        prompt(predictor, state, objects)
        synchronize(predictor.device)
        seconds, session_masks, position = [], [], {}
        for frame_idx, elapsed, frame_masks in propagate(predictor, state):
            if frame_idx in position:  # yielded again when the run ended (SAM2Long's best lineage)
                session_masks[position[frame_idx]] = frame_masks
                seconds[-1] += elapsed
                continue
            position[frame_idx] = len(session_masks)
            if frame_idx > 0:  # frame 0 holds the clicks: returned, not tracked
                seconds.append(elapsed)
            session_masks.append(frame_masks)
        frame_seconds = np.array(seconds) if frame_seconds is None else frame_seconds + np.array(seconds)
        masks.append(np.stack(session_masks))
    return frame_seconds, np.concatenate(masks, axis=1)


def measure(
    predictor, frames: str, objects: int, count_flops: bool, warmup_frames: int = WARMUP_FRAMES,
    together: bool = True,
) -> Tuple[Dict[str, np.ndarray], Optional[AttentionFlops]]:
    """One measurement, under the caller's inference mode and autocast: a warm-up session of
    ``warmup_frames`` tracked frames, the timed sessions (seconds per tracked frame, peak memory,
    masks) and, with ``count_flops``, once more counting FLOPs per tracked frame. ``together``:
    all objects in one session, else one session per object. Returns the result arrays and, when
    FLOPs were counted, the attention tally (with its calls by shape)."""
    device = predictor.device
    groups = sessions(objects, together)
    result = {}
    # Every run gets a new session, so no run reuses image features another one cached.
    started = time.perf_counter()
    warmup = predictor.init_state(frames)
    prompt(predictor, warmup, groups[0])
    for _ in propagate(predictor, warmup, warmup_frames):
        pass
    del warmup
    synchronize(device)
    result["warmup_seconds"] = time.perf_counter() - started
    reset_peak_memory(device)
    frame_seconds, masks = timed_sessions(predictor, frames, groups)
    result["peak_memory_mb"] = peak_memory_mb(device)
    result["frame_seconds"] = frame_seconds
    result["masks"] = np.packbits(masks, axis=-1)
    result["mask_shape"] = np.array(masks.shape)
    if not count_flops:
        return result, None
    counter = flop_counter()
    with counter, AttentionFlops(counter) as attention:
        tracked = 0
        for objects in groups:
            state = predictor.init_state(frames)
            prompt(predictor, state, objects)
            tracked = len({frame_idx for frame_idx, _, _ in propagate(predictor, state) if frame_idx > 0})
    result["dense_flops_per_frame"] = (counter.get_total_flops() - attention.seen_by_counter) / tracked
    result["attention_flops_per_frame"] = attention.flops / tracked
    return result, attention


def build(args) -> Tuple[object, "implementations.Implementation"]:
    """The video predictor of ``args.implementation``, fixed for a CPU run as the oracle is."""
    overrides = [f"++model.image_size={args.image_size}"] if args.image_size else []
    implementation = implementations.load(args.implementation, overrides)
    options = dict(device=args.device, hydra_overrides_extra=overrides)
    if args.vos_optimized:  # not every official builder knows the flag (EdgeTAM's does not)
        options["vos_optimized"] = True
    if args.tracker:  # ours only: the sessions' tracking policy ("sam2long:3:2": 3 pathways, uncertainty 2)
        name, *settings = args.tracker.split(":")
        options["tracker"] = name
        if settings:
            from sam2.tracking import Sam2LongSettings

            options["tracker"] = Sam2LongSettings(num_pathway=int(settings[0]), uncertainty=float(settings[1]))
    predictor = implementation.build_video_predictor(args.config, args.checkpoint, **options)
    # Parameters that ask for gradients make the FLOP counter's module hooks fail on views of
    # them (EdgeTAM's perceiver expands its latents); nothing here needs gradients.
    predictor.requires_grad_(False)
    predictor.fill_hole_area = 0  # the official hole filling needs a CUDA extension; same work on both sides
    if implementation.fix_official and args.precision == "fp32":
        implementations.cast_memory_to_fp32(predictor)
    return predictor, implementation


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", required=True)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--config", default="configs/sam2.1/sam2.1_hiera_t.yaml")
    parser.add_argument("--objects", type=int, default=2)
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="bf16")
    parser.add_argument("--implementation", choices=implementations.IMPLEMENTATIONS, default="ours",
                        help="the package on PYTHONPATH: ours, the reference sam2, EdgeTAM's or EfficientTAM's")
    parser.add_argument("--count-flops", action="store_true")
    parser.add_argument("--device", default="cpu", help="torch device (cpu, cuda)")
    parser.add_argument("--vos-optimized", action="store_true", help="build with the official vos_optimized flag")
    parser.add_argument("--warmup-frames", type=int, default=WARMUP_FRAMES, help="tracked frames of the warm-up session")
    parser.add_argument("--image-size", type=int, help="model input size (default: the config's)")
    parser.add_argument("--tracker", help="ours only: the tracking policy of the sessions (sam2.tracking)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    ours = args.implementation == "ours"
    if ours and torch.device(args.device).type == "cpu":
        from sam2.runtime.attention import configure_from_environment
        from sam2.runtime.cpu_allocator import tune_for_cpu_tracking

        tune_for_cpu_tracking()  # as the app does on the CPU
        configure_from_environment()  # SAM2_ATTENTION_BENCHMARK=1 times the kernels, as the app does
    predictor, implementation = build(args)
    autocast = (
        torch.autocast(torch.device(args.device).type, dtype=torch.bfloat16)
        if args.precision == "bf16" else contextlib.nullcontext()
    )
    with torch.inference_mode(), autocast:
        result, _ = measure(
            predictor, args.frames, args.objects, args.count_flops, args.warmup_frames,
            together=not implementation.legacy_predictor,
        )
    result["sessions"] = np.array(1 if not implementation.legacy_predictor else args.objects)
    if ours:
        from sam2.runtime import attention

        result["attention_choices"] = np.array(json.dumps(attention.picks))
    np.savez(args.out, **result)


if __name__ == "__main__":
    main()
