"""A one-shot check of the GPU path: parity with Meta's reference, speed, memory, app latency.

    python -m bench.gpu_check                 # seeded random weights, clips from ../shared/data
    python -m bench.gpu_check --checkpoint sam2.1_hiera_t=sam2.1_hiera_tiny.pt \\
        --checkpoint sam2.1_hiera_b+=sam2.1_hiera_base_plus.pt          # real weights

Prints the GPU, torch and CUDA versions, then five sections:

1. fp32 parity: the oracle harness's two-object scenario (oracle/run_scenario.py,
   ``video_basic``) played through our package and through the reference (sam2==1.1.0,
   installed beside ours by oracle/reference_env.py) on the GPU, compared mask by mask
   (oracle/compare.py): the lowest IoU over objects and frames, the largest logit
   difference, and PASS when every IoU is >= 0.99.
2. Seconds per tracked frame at 720p, 2 objects, bf16 autocast, ours and the reference's, for
   hiera-t and base-plus 2.1, eager and with the official ``vos_optimized=True``, and the ratio
   ours / reference from this run. Each run first tracks the same frames in an untimed warm-up
   session, which absorbs compilation and meets every shape the timed session meets.
3. The peak GPU memory (``torch.cuda.max_memory_allocated``) of each timed session.
4. Allocated GPU memory along a 1000-frame 720p video (ours, one object), sampled every 100
   frames, and its growth per frame from frame 100 to the end (flat is right).
5. The app's click and Track latencies (``bench.app_latency.measure``).

Without a CUDA device it says so and exits with status 0, having checked nothing. Otherwise
the exit status is 1 if a section failed or parity did not pass.

On the CPU the same code runs as a test (tests/test_gpu_check.py), with small inputs, the
tiny random config where the reference is not needed, and ``--trace-only`` (the ``vos_optimized``
builds trace their graphs with dynamo but generate no code, which takes minutes on a CPU); memory
figures are then the resident set:

    python -m bench.gpu_check --device cpu --precision fp32 --image-size 128 --configs sam2.1_hiera_t \\
        --modes eager vos --trace-only --config test_tiny --video clip.mp4 --frames 3 \\
        --parity-frames 4 --long-video clip.mp4 --growth-from 3 --app-frames 3
"""

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional

import numpy as np
import torch

from bench.media import official_config, random_checkpoint
from bench.speed import Run, RunResult, cpu_model, reference_pythonpath, run_worker
from oracle.compare import Report, compare_recordings
from oracle.frames import extract_frames
from oracle.paths import REPO, SHARED_DATA
from oracle.reference_env import with_checkout_after

ORACLE = REPO / "oracle"
PARITY_SCENARIO = "video_basic"  # one click on each of two objects, then propagation
PARITY_MIN_IOU = 0.99
MODES = {"eager": [], "vos": ["--vos-optimized"]}
OBJECTS = 2


@dataclass(frozen=True)
class Inputs:
    """What every section runs on."""

    device: str
    workdir: Path
    checkpoints: Dict[str, str]  # config name -> weights given by the user
    reference_path: Optional[str]  # PYTHONPATH of the reference install; None: ours only

    def checkpoint(self, config: str) -> str:
        """The user's weights for ``config``, else seeded random weights."""
        return self.checkpoints.get(config) or str(random_checkpoint(config))


@dataclass(frozen=True)
class SpeedRow:
    """Ours and the reference's timed sessions for one config and build mode."""

    config: str
    mode: str
    ours: RunResult
    reference: Optional[RunResult]

    @property
    def ratio(self) -> Optional[float]:
        """Our seconds per frame over the reference's (below 1: ours is faster)."""
        return None if self.reference is None else self.ours.seconds_per_frame / self.reference.seconds_per_frame


def memory_label(device: str, peak: bool) -> str:
    """What the memory figures on ``device`` are (see speed_worker.peak_memory_mb, long_video.device_memory_mb)."""
    if torch.device(device).type == "cuda":
        return "peak GPU MiB (max allocated)" if peak else "GPU MiB allocated"
    return "peak resident MiB" if peak else "resident MiB"


def describe_device(device: str) -> str:
    versions = f"torch {torch.__version__}, CUDA {torch.version.cuda or 'none (CPU build)'}"
    if torch.device(device).type != "cuda":
        return f"device: {device} ({cpu_model()}, {torch.get_num_threads()} threads); {versions}"
    props = torch.cuda.get_device_properties(device)
    return (f"GPU: {props.name}, {props.total_memory / 2**30:.0f} GiB, compute capability {props.major}.{props.minor}; "
            f"{versions}, cuDNN {torch.backends.cudnn.version()}")


def run_python(command: List[str], pythonpath: str, cwd: Path, what: str) -> None:
    """Run ``python command`` with only ``pythonpath`` on PYTHONPATH; its output is shown only if it fails."""
    env = dict(os.environ, PYTHONPATH=pythonpath, TQDM_DISABLE="1")
    proc = subprocess.run([sys.executable, *command], env=env, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-30:])
        raise RuntimeError(f"{what} exited with {proc.returncode}:\n{tail}")


def check_packages(recordings: Dict[str, Path], reference_path: str) -> None:
    """Guard against comparing a package with itself: each recording names the ``sam2`` it imported."""
    expected = {"reference": Path(reference_path.split(os.pathsep)[0]).resolve(), "ours": REPO}
    for impl, recording in recordings.items():
        with np.load(recording) as data:
            package = Path(str(data["meta_package_dir"]))
        if not package.is_relative_to(expected[impl]):
            raise RuntimeError(f"the {impl} run imported the sam2 in {package}, not one under {expected[impl]}")


def parity(inputs: Inputs, args) -> bool:
    """Section 1: the scripted scenario through both packages on the device, compared."""
    if inputs.reference_path is None:
        print("parity: not checked (--no-reference)" if args.no_reference else "parity: not checked, no reference")
        return args.no_reference
    config = official_config(args.configs[0])
    frames = extract_frames(args.video, inputs.workdir / "parity_frames", args.parity_frames, stride=3)
    checkpoint = inputs.checkpoints.get(args.configs[0])
    if checkpoint is None:  # random weights made informative by the harness, as tests/test_parity.py does
        checkpoint = str(inputs.workdir / "parity.pt")
        run_python([str(ORACLE / "make_checkpoint.py"), "--config", config, "--out", checkpoint],
                   with_checkout_after(inputs.reference_path), inputs.workdir, "make_checkpoint")
    recordings = {}
    for impl, pythonpath in (("reference", with_checkout_after(inputs.reference_path)), ("ours", str(REPO))):
        recordings[impl] = inputs.workdir / f"parity_{impl}.npz"
        command = [str(ORACLE / "run_scenario.py"), "--impl", impl, "--config", config, "--checkpoint", checkpoint,
                   "--scenario", PARITY_SCENARIO, "--frames", str(frames), "--out", str(recordings[impl]),
                   "--device", inputs.device]
        if args.image_size:
            command += ["--image-size", str(args.image_size)]
        run_python(command, pythonpath, inputs.workdir, f"{impl} {PARITY_SCENARIO}")
    check_packages(recordings, inputs.reference_path)
    report: Report = compare_recordings(recordings["reference"], recordings["ours"], PARITY_MIN_IOU)
    print(f"{config}, {PARITY_SCENARIO} on {args.parity_frames} frames of {args.video}, fp32 on {inputs.device}")
    print(report.summary())
    verdict = "PASS" if report.ok else "FAIL"
    print(f"parity: min IoU {report.worst_iou.value:.4f} over {report.masks_compared} masks (objects x frames), "
          f"max |logit diff| {report.worst_max_diff.value:.3e}: {verdict} (IoU >= {PARITY_MIN_IOU})")
    return report.ok


def number(value: Optional[float], spec: str) -> str:
    """``value`` formatted, or "-" where there is none (no reference run)."""
    return "-" if value is None else format(value, spec)


def timed_run(impl: str, config: str, mode: str, frames: Path, inputs: Inputs, args) -> RunResult:
    """One speed_worker run; its warm-up session tracks every frame the timed one tracks."""
    options = ["--device", inputs.device, "--warmup-frames", str(args.frames), *MODES[mode]]
    if args.image_size:
        options += ["--image-size", str(args.image_size)]
    started = time.perf_counter()
    result = run_worker(Run(impl, args.precision, OBJECTS), frames, Path(inputs.checkpoint(config)),
                        inputs.reference_path, False, official_config(config), options)
    print(f"{impl:9s} {config} {mode}: {result.seconds_per_frame:.4f} s/frame, warm-up {result.warmup_seconds:.1f} s, "
          f"{time.perf_counter() - started:.0f} s in all", flush=True)
    return result


def speed(inputs: Inputs, args) -> bool:
    """Sections 2 and 3: seconds per tracked frame and peak memory, ours and the reference's."""
    frames = extract_frames(args.video, inputs.workdir / "speed_frames", args.frames + 1)
    rows = []
    for mode in args.modes:  # eager first by default: the vos runs compile, which takes longest
        for config in args.configs:
            reference = None
            if inputs.reference_path is not None:
                reference = timed_run("reference", config, mode, frames, inputs, args)
            ours = timed_run("ours", config, mode, frames, inputs, args)
            rows.append(SpeedRow(config, mode, ours, reference))
    print(f"\n{args.frames} tracked frames of {args.video}, {OBJECTS} objects, {args.precision} on {inputs.device}"
          f"{', compiled graphs run eagerly (--trace-only)' if args.trace_only else ''}")
    print(f"| config | mode | ours s/frame | reference s/frame | ours/reference | ours {memory_label(inputs.device, peak=True)} "
          "| reference peak | warm-up s (ours, reference) |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        ours, ref = row.ours, row.reference
        cells = [
            row.config, row.mode, number(ours.seconds_per_frame, ".4f"), number(ref and ref.seconds_per_frame, ".4f"),
            number(row.ratio, ".2f"), number(ours.peak_memory_mb, ".0f"), number(ref and ref.peak_memory_mb, ".0f"),
            f"{number(ours.warmup_seconds, '.1f')}, {number(ref and ref.warmup_seconds, '.1f')}",
        ]
        print("| " + " | ".join(cells) + " |")
    return True


def long_video_memory(inputs: Inputs, args) -> bool:
    """Section 4: memory in use along a long video, ours only, in this process."""
    from bench.long_video import track_long_video
    from bench.media import long_video
    from sam2.build_sam import build_sam2_video_predictor
    from sam2.runtime.precision import autocast_context

    video = args.long_video or str(long_video(args.long_frames))
    overrides = [f"++model.image_size={args.image_size}"] if args.image_size else []
    predictor = build_sam2_video_predictor(args.config, inputs.checkpoint(args.config), device=inputs.device,
                                           hydra_overrides_extra=overrides)
    dtype = torch.bfloat16 if args.precision == "bf16" else None
    run = track_long_video(predictor, video, autocast_context(inputs.device, dtype), args.growth_from)
    print(f"{video}: {run.num_frames} frames, {run.width}x{run.height}; {args.config} at {predictor.image_size} px, "
          f"{args.precision} on {inputs.device}; init_state {run.init_seconds:.2f} s")
    print(f"memory in use, {memory_label(inputs.device, peak=False)}:")
    for frame_idx, mib in sorted(run.memory_mb.items()):
        print(f"  frame {frame_idx:5d}: {mib:8.1f}")
    print(f"growth per frame (frame {args.growth_from} to {run.last}): {run.growth_kib_per_frame(args.growth_from):.2f} KiB")
    early, late = run.frame_seconds[1 : 1 + args.growth_from], run.frame_seconds[-args.growth_from :]
    print(f"median s/frame: first {len(early)} tracked frames {statistics.median(early):.4f}, "
          f"last {len(late)} {statistics.median(late):.4f}")
    del predictor
    if torch.device(inputs.device).type == "cuda":
        torch.cuda.empty_cache()
    return True


def app_latency(inputs: Inputs, args) -> bool:
    """Section 5: the app's handlers, timed (bench.app_latency)."""
    from bench.app_latency import measure

    latency = measure(args.video, args.config, inputs.checkpoint(args.config), device=inputs.device,
                      image_size=args.image_size, frames=args.app_frames)
    print(latency.report())
    return True


SECTIONS: Dict[str, Callable[[Inputs, argparse.Namespace], bool]] = {
    "parity": parity, "speed": speed, "memory": long_video_memory, "latency": app_latency,
}
TITLES = {
    "parity": "1. fp32 parity with the reference",
    "speed": "2-3. seconds per tracked frame and peak memory, ours vs reference",
    "memory": "4. memory over a long video",
    "latency": "5. app latency",
}


def run_section(name: str, inputs: Inputs, args) -> bool:
    """Run one section; a failure is printed and reported, and the next section still runs."""
    print(f"\n== {TITLES[name]} ==", flush=True)
    started = time.perf_counter()
    try:
        ok = SECTIONS[name](inputs, args)
    except Exception:
        traceback.print_exc(file=sys.stdout)
        ok = False
    print(f"({name}: {'ok' if ok else 'FAILED'}, {time.perf_counter() - started:.0f} s)", flush=True)
    return ok


def parse_checkpoints(pairs: List[str], parser: argparse.ArgumentParser) -> Dict[str, str]:
    checkpoints = {}
    for pair in pairs:
        config, sep, path = pair.partition("=")
        if not sep or not Path(path).is_file():
            parser.error(f"--checkpoint wants CONFIG=PATH to an existing file, got {pair!r}")
        checkpoints[config] = path
    return checkpoints


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", help="torch device (cpu runs the check's test mode)")
    parser.add_argument("--checkpoint", action="append", default=[], metavar="CONFIG=PATH",
                        help="real weights for a config (default: seeded random weights)")
    parser.add_argument("--video", default=str(SHARED_DATA / "dog.mp4"), help="clip for parity, speed and app latency")
    parser.add_argument("--configs", nargs="+", default=["sam2.1_hiera_t", "sam2.1_hiera_b+"],
                        help="official configs timed against the reference; the first one is checked for parity")
    parser.add_argument("--config", default="sam2.1_hiera_t", help="config of the long-video and app sections")
    parser.add_argument("--precision", choices=["bf16", "fp32"], default="bf16", help="autocast of speed and memory")
    parser.add_argument("--modes", nargs="+", choices=sorted(MODES), default=["eager", "vos"],
                        help="eager and/or vos_optimized=True builds")
    parser.add_argument("--trace-only", action="store_true",
                        help="compile with dynamo's eager backend (TORCH_COMPILE_OVERRIDE_BACKENDS): for the CPU test")
    parser.add_argument("--no-reference", action="store_true", help="ours only: no parity, no reference timings")
    parser.add_argument("--image-size", type=int, help="model input size (default: the config's)")
    parser.add_argument("--frames", type=int, default=50, help="tracked frames per speed run")
    parser.add_argument("--parity-frames", type=int, default=10, help="frames (every 3rd of the clip) for parity")
    parser.add_argument("--long-frames", type=int, default=1000, help="length of the generated long 720p video")
    parser.add_argument("--long-video", help="use this video for the memory section instead of a generated one")
    parser.add_argument("--growth-from", type=int, default=100,
                        help="memory is sampled every N frames; growth is measured from frame N to the end")
    parser.add_argument("--app-frames", type=int, default=8, help="frames tracked by the app-latency section")
    parser.add_argument("--sections", nargs="+", choices=list(SECTIONS), default=list(SECTIONS))
    args = parser.parse_args(argv)
    args.checkpoints = parse_checkpoints(args.checkpoint, parser)
    return args


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    if torch.device(args.device).type == "cuda" and not torch.cuda.is_available():
        print(f"No CUDA device (torch.cuda.is_available() is False; torch {torch.__version__}, "
              f"CUDA {torch.version.cuda or 'none (CPU build)'}, {platform.machine()}): nothing was checked.")
        return 0
    missing = [path for path in (args.video, args.long_video) if path and not Path(path).is_file()]
    if missing:
        print(f"video not found: {', '.join(missing)} (pass --video, and --long-video or the clips in {SHARED_DATA})")
        return 2
    if torch.device(args.device).type == "cpu":
        from sam2.runtime.cpu_allocator import tune_for_cpu_tracking

        tune_for_cpu_tracking()  # as the app does on the CPU (the speed workers opt in by themselves)
    if args.trace_only:
        os.environ["TORCH_COMPILE_OVERRIDE_BACKENDS"] = ">=0:eager"  # every graph; inherited by the workers
    print(describe_device(args.device), flush=True)
    needs_reference = not args.no_reference and {"parity", "speed"} & set(args.sections)
    reference_path = reference_pythonpath() if needs_reference else None
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gpu_check_") as scratch:
        inputs = Inputs(args.device, Path(scratch), args.checkpoints, reference_path)
        failed = [name for name in args.sections if not run_section(name, inputs, args)]
    print(f"\ngpu_check: {len(args.sections) - len(failed)} of {len(args.sections)} sections ok"
          f"{' (failed: ' + ', '.join(failed) + ')' if failed else ''}, {time.perf_counter() - started:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
