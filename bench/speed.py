"""Tracking speed of our package against the official code of the same model, measured in one run.

    python -m bench.speed                       # hiera-t 2.1, 720p, 8 tracked frames, 1-3 objects
    python -m bench.speed --objects 2 --precisions bf16 --repeats 3
    python -m bench.speed --model edgetam --objects 2 --precisions fp32
    python -m bench.speed --tracker samurai --impls ours --objects 1 2  # a policy's cost beside SAM 2's
    python -m bench.speed --tracker sam2long --pathways 1 3 --uncertainty 2 100 --impls ours --objects 1
    ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2 \
        python -m bench.speed --objects 2 --precisions fp32     # this CPU as an AVX2-only one

Prints the CPU model and this machine's bf16 and fp32 matmul peaks; runs the model's official
code (SAM 2: the reference sam2==1.1.0; EdgeTAM: edgetam-dimos; EfficientTAM: its GitHub code;
each installed in a folder of its own, see oracle/reference_env.py) and our package in
subprocesses on the same frames, checkpoint (seeded random weights unless --checkpoint) and
clicks, in fp32 and under bf16 autocast; counts the official code's FLOPs per tracked frame; and
reports seconds per frame, ratios to the official code, the share of the bf16 peak (the
official FLOPs per frame / our seconds per frame / peak) and mask agreement (IoU). With a
``--model`` other than SAM 2.1 tiny, our SAM 2.1 tiny runs too, as the yardstick of the
model's speed-up. EdgeTAM's official predictor cannot track two objects together: it tracks
each in a session of its own, and its time per frame is the sum (what it costs to track them).
With --repeats N every run is repeated N times, in rounds that alternate the two packages,
and the median is reported (timings on shared machines drift by 10% and more); the peaks
are measured before and after, and the higher one is used. With --tracker NAME ... ours also
runs with each tracking policy (sam2.tracking) on the same weights, and a table gives each
policy's seconds per frame beside SAM 2's own (and how far its masks part from SAM 2's);
SAM2Long runs once per --pathways count and --uncertainty, and its cost per pathway is the slope
between the fewest and the most pathways (pathways that keep the same candidates are run once,
so at its own uncertainty of 2 a model sure of the object costs little more than SAM 2; at an
uncertainty above every object score each pathway keeps a different mask: the full cost).
"""

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

from bench.media import CACHE, official_config, official_implementation, random_checkpoint
from oracle import reference_env
from oracle.frames import extract_frames
from oracle.metrics import min_iou
from oracle.paths import REPO, SHARED_DATA
from sam2.assembly.configs import config_name, get_config
from sam2.runtime.attention_choice import cpu_model
from sam2.tracking import TRACKER_NAMES, tracker_settings

WORKER = Path(__file__).with_name("speed_worker.py")
YARDSTICK = "sam2.1_hiera_t"
REFERENCE_CONFIG = official_config(YARDSTICK)


@dataclass(frozen=True)
class Run:
    """One worker run: implementation ("ours", or "reference": the model's official code),
    precision, number of objects, and the model (a preset name)."""

    impl: str
    precision: str
    objects: int
    model: str = YARDSTICK
    tracker: str = "sam2"


@dataclass
class RunResult:
    seconds_per_frame: float
    masks: np.ndarray  # (frames, objects, H, W) bool
    dense_flops: Optional[float] = None
    attention_flops: Optional[float] = None
    peak_memory_mb: Optional[float] = None  # of the timed session (see speed_worker.peak_memory_mb)
    warmup_seconds: Optional[float] = None  # the warm-up session, compilation included
    attention_choices: Dict[str, str] = field(default_factory=dict)  # ours: shape class -> way

    @property
    def flops(self) -> Optional[float]:
        return None if self.dense_flops is None else self.dense_flops + self.attention_flops


def matmul_peak(dtype: torch.dtype, seconds: float = 2.0) -> float:
    """Best FLOP/s of square matmuls in ``dtype`` on this machine's torch threads.

    Sizes grow only while one multiply stays well inside the time budget: where the CPU has
    no bf16 instructions (AVX2 only) a bf16 matmul runs at ~1 GFLOP/s, and one 4096^3
    multiply would take minutes.
    """
    best = 0.0
    for size in (512, 1024, 2048, 4096):
        a = torch.randn(size, size).to(dtype)
        b = torch.randn(size, size).to(dtype)
        started = time.perf_counter()
        a @ b
        single = time.perf_counter() - started
        if single > seconds / 3:
            return max(best, 2 * size**3 / single)
        repeats, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds / 3:
            a @ b
            repeats += 1
        best = max(best, 2 * size**3 * repeats / (time.perf_counter() - started))
    return best


# Environment variables that hide instruction sets from PyTorch's kernels, oneDNN and MKL: with
# all three, this machine stands in for a CPU without them (the ISA, not its caches or clocks).
ISA_LIMITS = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS")


def isa_limits() -> str:
    """The instruction-set limits in force (they reach the workers too), for the report's header."""
    limits = [f"{name}={os.environ[name]}" for name in ISA_LIMITS if name in os.environ]
    return f" (limited: {', '.join(limits)})" if limits else ""


def cached_frames(video: Path, count: int) -> Path:
    """The first ``count`` frames of ``video`` as a JPEG folder (cached), the input both
    packages read the same way."""
    target = CACHE / f"frames_{video.stem}_{count}"
    if len(list(target.glob("*.jpg"))) == count:
        return target
    return extract_frames(video, target, count)


def run_worker(
    run: Run, frames: Path, checkpoint: Path, reference_path: Optional[str], count_flops: bool,
    config: str = REFERENCE_CONFIG, options: Sequence[str] = (),
) -> RunResult:
    """One ``speed_worker`` run in a subprocess; ``options`` are further worker arguments
    (``--device``, ``--vos-optimized``, ...)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = reference_env.with_checkout_after(reference_path) if run.impl == "reference" else str(REPO)
    env["TQDM_DISABLE"] = "1"  # the official codes draw progress bars
    implementation = official_implementation(run.model) if run.impl == "reference" else "ours"
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "result.npz"
        command = [
            sys.executable, str(WORKER), "--frames", str(frames), "--checkpoint", str(checkpoint),
            "--config", config, "--objects", str(run.objects), "--precision", run.precision,
            "--implementation", implementation, "--out", str(out), *options,
        ]
        if count_flops:
            command.append("--count-flops")
        if run.tracker != "sam2":
            command += ["--tracker", run.tracker]
        # Run from a neutral folder so that the current directory cannot shadow either package.
        subprocess.run(command, env=env, cwd=scratch, check=True)
        data = np.load(out)
        shape = tuple(data["mask_shape"])
        masks = np.unpackbits(data["masks"], axis=-1, count=shape[-1]).astype(bool).reshape(shape)
        result = RunResult(
            float(np.mean(data["frame_seconds"])), masks, peak_memory_mb=float(data["peak_memory_mb"]),
            warmup_seconds=float(data["warmup_seconds"]),
        )
        if "attention_choices" in data:
            result.attention_choices = json.loads(str(data["attention_choices"]))
        if count_flops:
            result.dense_flops = float(data["dense_flops_per_frame"])
            result.attention_flops = float(data["attention_flops_per_frame"])
        return result


def reference_pythonpath(model: str = YARDSTICK) -> Optional[str]:
    """PYTHONPATH of the model's official package (installed on first use), or None."""
    env = reference_env.find_or_install(official_implementation(model))
    if env is None:
        print(f"official code of {model} unavailable, running ours only: {reference_env.last_failure_reason}")
        return None
    return env.pythonpath


def report(
    results: Dict[Run, RunResult], objects: List[int], precisions: List[str], share_precision: str, peak: float,
    model: str = YARDSTICK,
) -> None:
    """The timing table of ``model``; shares are of the ``share_precision`` runs against ``peak`` FLOP/s."""
    def get(impl, precision, count) -> Optional[RunResult]:
        return results.get(Run(impl, precision, count, model))

    print(f"\n{model}: seconds per tracked frame (mean over the tracked frames; median over rounds); "
          "reference = the model's official code")
    header = "| objects | " + " | ".join(f"{impl} {p}" for impl, p in itertools.product(("reference", "ours"), precisions))
    print(header + f" | ours/ref speed-up (same precision) | ours bf16 vs ref fp32 | ref TFLOP/frame | share of {share_precision} peak: ref, ours |")
    print("|" + "---|" * (header.count("|") + 4))
    for count in objects:
        cells = []
        for impl, precision in itertools.product(("reference", "ours"), precisions):
            found = get(impl, precision, count)
            cells.append(f"{found.seconds_per_frame:.3f}" if found else "-")
        speedups = []
        for precision in precisions:
            ours, ref = get("ours", precision, count), get("reference", precision, count)
            speedups.append(f"{precision} {ref.seconds_per_frame / ours.seconds_per_frame:.2f}x" if ours and ref else "-")
        ours_bf16, ref_fp32 = get("ours", "bf16", count), get("reference", "fp32", count)
        vs_fp32 = f"{ref_fp32.seconds_per_frame / ours_bf16.seconds_per_frame:.2f}x" if ours_bf16 and ref_fp32 else "-"
        work = next((r.flops for r in (get("reference", p, count) for p in precisions) if r and r.flops), None)
        share = "-"
        if work:
            shares = [
                f"{work / r.seconds_per_frame / peak:.0%}" if r else "-"
                for r in (get("reference", share_precision, count), get("ours", share_precision, count))
            ]
            share = ", ".join(shares)
        work_text = f"{work / 1e12:.3f}" if work else "-"
        print(f"| {count} | " + " | ".join(cells) + f" | {'; '.join(speedups)} | {vs_fp32} | {work_text} | {share} |")

    for precision in precisions:
        first, last = get("ours", precision, objects[0]), get("ours", precision, objects[-1])
        ref_first, ref_last = get("reference", precision, objects[0]), get("reference", precision, objects[-1])
        if len(objects) > 1 and first and last and ref_first and ref_last:
            print(
                f"{precision}: {objects[0]} -> {objects[-1]} objects adds "
                f"{last.seconds_per_frame - first.seconds_per_frame:.3f} s/frame to ours, "
                f"{ref_last.seconds_per_frame - ref_first.seconds_per_frame:.3f} to the reference"
            )
    for run, res in sorted(results.items(), key=lambda item: (item[0].objects, item[0].impl, item[0].model)):
        if res.flops:
            print(
                f"FLOPs per tracked frame, {run.impl} {run.model}, {run.objects} object(s): {res.flops / 1e12:.3f} T "
                f"(attention {res.attention_flops / 1e12:.3f}, the rest {res.dense_flops / 1e12:.3f})"
            )

    print("\nmask agreement (lowest IoU over frames and objects)")
    for count in objects:
        pairs = [
            ("ours bf16 vs ours fp32", get("ours", "bf16", count), get("ours", "fp32", count)),
            ("ours fp32 vs reference fp32", get("ours", "fp32", count), get("reference", "fp32", count)),
            ("ours bf16 vs reference bf16", get("ours", "bf16", count), get("reference", "bf16", count)),
            ("reference bf16 vs reference fp32", get("reference", "bf16", count), get("reference", "fp32", count)),
        ]
        text = [f"{name} {min_iou(a.masks, b.masks):.4f}" for name, a, b in pairs if a and b]
        print(f"{count} object(s): " + "; ".join(text))


def report_yardstick(results: Dict[Run, RunResult], objects: List[int], precisions: List[str], model: str) -> None:
    """Ours ``model`` against ours SAM 2.1 tiny, at the same input size and precision."""
    print(f"\nours {model} against ours {YARDSTICK} (seconds per tracked frame; speed-up)")
    print(f"| objects | precision | {YARDSTICK} | {model} | speed-up |")
    print("|---|---|---|---|---|")
    for count, precision in itertools.product(objects, precisions):
        yardstick, ours = results.get(Run("ours", precision, count)), results.get(Run("ours", precision, count, model))
        if yardstick and ours:
            print(f"| {count} | {precision} | {yardstick.seconds_per_frame:.3f} | {ours.seconds_per_frame:.3f} | "
                  f"{yardstick.seconds_per_frame / ours.seconds_per_frame:.2f}x |")


def tracker_runs(trackers: List[str], pathways: List[int], uncertainties: List[float]) -> List[str]:
    """The tracker of each run: SAM2Long once per pathway count and uncertainty ("sam2long:3:2")."""
    long_runs = [f"sam2long:{count}:{value:g}" for value in uncertainties for count in pathways]
    return [spec for name in trackers for spec in (long_runs if name == "sam2long" else [name])]


def tracker_title(spec: str) -> str:
    name, *settings = spec.split(":")
    title = tracker_settings(name).title
    if not settings:
        return title
    return f"{title} ({settings[0]} pathway{'s' if settings[0] != '1' else ''}, uncertainty {settings[1]})"


def report_pathway_cost(results: Dict[Run, RunResult], objects: List[int], precisions: List[str], model: str,
                        specs: List[str]) -> None:
    """SAM2Long's seconds per frame for each added pathway (the slope from fewest to most), per
    uncertainty."""
    runs = [spec.split(":")[1:] for spec in specs if spec.startswith("sam2long:")]
    for value in dict.fromkeys(value for _, value in runs):
        counts = sorted(int(count) for count, other in runs if other == value)
        if len(counts) < 2:
            continue
        for count, precision in itertools.product(objects, precisions):
            base = results.get(Run("ours", precision, count, model))
            low = results.get(Run("ours", precision, count, model, f"sam2long:{counts[0]}:{value}"))
            high = results.get(Run("ours", precision, count, model, f"sam2long:{counts[-1]}:{value}"))
            if base and low and high:
                slope = (high.seconds_per_frame - low.seconds_per_frame) / (counts[-1] - counts[0])
                print(f"SAM2Long, uncertainty {value}, {count} object(s), {precision}: {slope:.3f} s per frame "
                      f"for each pathway ({slope / base.seconds_per_frame:.2f}x SAM 2's frame)")


def report_trackers(results: Dict[Run, RunResult], objects: List[int], precisions: List[str], model: str,
                    trackers: List[str]) -> None:
    """Ours ``model`` with each tracking policy against SAM 2's own policy on the same weights."""
    print(f"\nours {model}: each tracker's seconds per tracked frame beside SAM 2's own "
          "(cost ratio; lowest mask IoU with SAM 2's masks)")
    print("| objects | precision | SAM 2 | " + " | ".join(map(tracker_title, trackers)) + " |")
    print("|---|---|---|" + "---|" * len(trackers))
    for count, precision in itertools.product(objects, precisions):
        base = results.get(Run("ours", precision, count, model))
        if base is None:
            continue
        cells = []
        for tracker in trackers:
            found = results.get(Run("ours", precision, count, model, tracker))
            cells.append("-" if found is None else f"{found.seconds_per_frame:.3f} "
                         f"({found.seconds_per_frame / base.seconds_per_frame:.2f}x; "
                         f"IoU {min_iou(found.masks, base.masks):.3f})")
        print(f"| {count} | {precision} | {base.seconds_per_frame:.3f} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", default=str(SHARED_DATA / "dog.mp4"), help="a 720p clip")
    parser.add_argument("--frames", type=int, default=8, help="tracked frames after the prompted one")
    parser.add_argument("--objects", type=int, nargs="+", default=[1, 2, 3], choices=[1, 2, 3])
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    parser.add_argument("--impls", nargs="+", default=["reference", "ours"], choices=["reference", "ours"],
                        help="reference: the model's official code")
    parser.add_argument("--model", default=YARDSTICK,
                        help="preset or official config: sam2.1_hiera_t, edgetam, efficienttam_ti_512x512, ...")
    parser.add_argument("--image-size", type=int, help="model input size for every run (default: the --model's own, for the SAM 2.1 tiny yardstick too)")
    parser.add_argument("--checkpoint", help="weights of --model (default: seeded random weights)")
    parser.add_argument("--repeats", type=int, default=1, help="rounds of every run; the median is reported")
    parser.add_argument("--tracker", nargs="+", default=[], choices=[t for t in TRACKER_NAMES if t != "sam2"],
                        help="also run ours with these tracking policies, beside SAM 2's own")
    parser.add_argument("--pathways", type=int, nargs="+", default=[3],
                        help="SAM2Long's pathway counts to run (two or more give its cost per pathway)")
    parser.add_argument("--uncertainty", type=float, nargs="+", default=[2.0],
                        help="SAM2Long's uncertainty values to run (above every object score: pathways always part)")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if min(args.pathways) < 1:
        parser.error("--pathways must be at least 1")

    print(f"CPU: {cpu_model()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}, "
          f"kernels for {torch.backends.cpu.get_cpu_capability()}{isa_limits()}")
    peaks = {dtype: matmul_peak(dtype) for dtype in (torch.bfloat16, torch.float32)}
    print(f"matmul peak: bf16 {peaks[torch.bfloat16] / 1e12:.3g} TFLOP/s, fp32 {peaks[torch.float32] / 1e12:.3g} TFLOP/s")

    precisions = list(args.precisions)
    if "bf16" in precisions and peaks[torch.bfloat16] < peaks[torch.float32]:
        print(
            "bf16 matmuls are slower than fp32 on this CPU (no bf16 instructions): the bf16 runs are "
            "skipped, as sam2.runtime.precision keeps fp32 here; shares are of the fp32 peak"
        )
        precisions.remove("bf16")
    if not precisions:
        return

    frames = cached_frames(Path(args.video), args.frames + 1)
    model = config_name(args.model)
    checkpoints = {model: Path(args.checkpoint) if args.checkpoint else random_checkpoint(model)}
    impls = list(args.impls)
    reference_path = reference_pythonpath(model) if "reference" in impls else None
    if reference_path is None and "reference" in impls:
        impls.remove("reference")

    runs = [Run(impl, precision, count, model)
            for count, precision, impl in itertools.product(args.objects, precisions, impls)]
    trackers = tracker_runs(args.tracker, args.pathways, args.uncertainty)
    runs += [Run("ours", precision, count, model, tracker)
             for count, precision, tracker in itertools.product(args.objects, precisions, trackers)]
    if model != YARDSTICK:
        checkpoints[YARDSTICK] = random_checkpoint(YARDSTICK)
        runs += [Run("ours", precision, count) for count, precision in itertools.product(args.objects, precisions)]
    # Without --image-size each model runs at its own size, and the yardstick at the model's:
    # a speed-up is only a model's own at the same input size.
    image_size = args.image_size or (get_config(model).image_size if model != YARDSTICK else None)
    options = ["--image-size", str(image_size)] if image_size else []
    results: Dict[Run, RunResult] = {}
    timings: Dict[Run, List[float]] = {run: [] for run in runs}
    for repeat in range(args.repeats):
        for run in runs:
            # FLOPs do not depend on precision: count them once per implementation, model and object count.
            count_flops = repeat == 0 and run.precision == precisions[0] and run.tracker == "sam2"
            started = time.perf_counter()
            result = run_worker(run, frames, checkpoints[run.model], reference_path, count_flops,
                                official_config(run.model), options)
            results.setdefault(run, result)
            timings[run].append(result.seconds_per_frame)
            print(
                f"{run.impl:9s} {run.model} {run.tracker} {run.precision} {run.objects} object(s): "
                f"{result.seconds_per_frame:.3f} "
                f"s/frame ({time.perf_counter() - started:.0f} s; round {repeat + 1} of {args.repeats})", flush=True,
            )
    for run, result in results.items():
        result.seconds_per_frame = statistics.median(timings[run])
    if args.repeats > 1:
        for run in runs:
            spread = ", ".join(f"{seconds:.3f}" for seconds in timings[run])
            print(f"{run.impl:9s} {run.model} {run.precision} {run.objects} object(s): "
                  f"median {results[run].seconds_per_frame:.3f} of {spread}")
    share_precision = "bf16" if "bf16" in precisions else "fp32"
    share_dtype = torch.bfloat16 if share_precision == "bf16" else torch.float32
    after = matmul_peak(share_dtype)
    peak = max(peaks[share_dtype], after)
    print(f"{share_precision} matmul peak after the runs: {after / 1e12:.2f} TFLOP/s; the shares use {peak / 1e12:.2f}")
    report({run: res for run, res in results.items() if run.tracker == "sam2"}, args.objects, precisions,
           share_precision, peak, model)
    if trackers:
        report_trackers(results, args.objects, precisions, model, trackers)
        report_pathway_cost(results, args.objects, precisions, model, trackers)
    if model != YARDSTICK:
        report_yardstick(results, args.objects, precisions, model)
    print_attention_choices(results)


def print_attention_choices(results: Dict[Run, RunResult]) -> None:
    """The attention way ours ran per shape class (from the first run of each precision)."""
    shown = set()
    for run, result in results.items():
        if run.impl != "ours" or not result.attention_choices or (run.model, run.precision) in shown:
            continue
        shown.add((run.model, run.precision))
        print(f"\nattention ways ours ran ({run.model}, {run.precision}, {run.objects} object(s)):")
        for shape_class, way in sorted(result.attention_choices.items()):
            print(f"  {way:22s} {shape_class}")


if __name__ == "__main__":
    main()
