"""Masks for every frame of a VOS dataset from its given masks, with the official script's flags.

    python tools/vos_inference.py --sam2_cfg configs/sam2.1/sam2.1_hiera_t.yaml \\
        --sam2_checkpoint checkpoints/sam2.1_hiera_tiny.pt --base_video_dir JPEGImages \\
        --input_mask_dir Annotations --output_mask_dir predictions [--per_obj_png_file] ...

Videos are folders of JPEG frames or video files (``<name>.mp4`` and the other extensions the
predictor reads; masks then named 00000.png, 00001.png, ...). Output: indexed PNGs in the DAVIS
layout (the input's palette), or one PNG per object with ``--per_obj_png_file`` (SA-V). A video's
folder appears when all its masks are written. ``--ray [ADDRESS]`` runs one Ray task per video
and skips the videos whose folder is there, so a stopped run resumes. ``--tracker samurai`` (or
``dam4sam``, ``sam2long``) tracks with that policy's rules on the same weights (see
sam2.tracking); SAM2Long's own flags (``--num_pathway 3 --iou_thre 0.1 --uncertainty 2``)
choose SAM2Long with those settings.
"""

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from sam2.runtime.attention import configure_from_environment  # noqa: E402
from sam2.tracking import TRACKER_NAMES, Sam2LongSettings  # noqa: E402
from vos.inference import VosOptions, video_names  # noqa: E402
from vos.job import ModelSpec, VosJob  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sam2_cfg", default="configs/sam2.1/sam2.1_hiera_b+.yaml", help="model config name")
    parser.add_argument("--sam2_checkpoint", default="./checkpoints/sam2.1_hiera_base_plus.pt", help="weights")
    parser.add_argument("--base_video_dir", required=True, help="videos: JPEG folders or video files")
    parser.add_argument("--input_mask_dir", required=True, help="given masks (PNG) of each video")
    parser.add_argument("--video_list_file", default=None, help="text file naming the videos to run (one a line)")
    parser.add_argument("--output_mask_dir", required=True, help="where the output masks go")
    parser.add_argument("--score_thresh", type=float, default=0.0, help="mask logit threshold")
    parser.add_argument("--use_all_masks", action="store_true", help="every given mask is a prompt, not the first only")
    parser.add_argument("--per_obj_png_file", action="store_true", help="one PNG per object (SA-V) in and out")
    parser.add_argument("--apply_postprocessing", action="store_true", help="the builder's post-processing (hole filling)")
    parser.add_argument("--track_object_appearing_later_in_video", action="store_true",
                        help="track each object from its first mask (objects not all on the first frame)")
    parser.add_argument("--use_vos_optimized_video_predictor", action="store_true", help="torch.compile the model")
    parser.add_argument("--tracker", choices=TRACKER_NAMES, default=None,
                        help="tracking policy on the same weights (default: the config's; SAM 2's own)")
    long = parser.add_argument_group("SAM2Long", "its settings, under its own flag names (any of them: --tracker sam2long)")
    long.add_argument("--num_pathway", type=int, help="hypotheses kept per object (default 3)")
    long.add_argument("--iou_thre", type=float, help="predicted IoU a frame needs to be memory (default 0.1)")
    long.add_argument("--uncertainty", type=float, help="|object score| at or below which a frame is uncertain (default 2)")
    ray = parser.add_argument_group("Ray", "one task per video on a Ray cluster; complete videos are skipped")
    ray.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                     help='cluster address ("auto": the cluster of this machine); alone: a local Ray instance')
    ray.add_argument("--ray_cpus_per_task", type=int, default=1, help="CPUs of a task where there are no GPUs")
    ray.add_argument("--ray_max_retries", type=int, default=3, help="new attempts at a video whose worker died")
    return parser.parse_args(argv)


def run_here(job: VosJob, names) -> int:
    """Every video in this process, one after the other; stops at the first that fails."""
    predictor = job.build_predictor()
    with tqdm(names, desc="videos", unit="video") as overall:
        for name in overall:
            with tqdm(desc=name, unit="frame", leave=False) as frames:
                def show(done: int, total: int) -> None:
                    frames.total = total
                    frames.update(done - frames.n)

                outcome = job.run_video(predictor, name, show)
            if outcome.error is not None:
                print(f"error in video {name}: {outcome.error}", file=sys.stderr)
                return 1
    print(f"masks of {len(names)} videos written to {job.output_mask_dir}")
    return 0


def run_on_cluster(job: VosJob, names, args: argparse.Namespace) -> int:
    """Every video as a Ray task; reports each video, and the ones that failed at the end."""
    try:
        import ray  # noqa: F401
    except ImportError:
        print('--ray needs Ray on this machine and the cluster: pip install "ray>=2.9"', file=sys.stderr)
        return 2
    from vos.on_ray import RayPlacement, run_on_ray

    try:
        outcomes = run_on_ray(job, names, RayPlacement(args.ray, args.ray_cpus_per_task, args.ray_max_retries))
    except ConnectionError as error:
        print(f"cannot reach the Ray cluster at {args.ray}: {error}", file=sys.stderr)
        return 2
    failed = [outcome for outcome in outcomes if outcome.error is not None]
    retried = [outcome for outcome in outcomes if outcome.died_attempts]
    print(f"{len(outcomes) - len(failed)} videos done, {len(failed)} failed, {len(retried)} retried "
          f"after a worker died; masks in {job.output_mask_dir}")
    for outcome in failed:
        print(outcome.describe(), file=sys.stderr)
    return 1 if failed else 0


def chosen_tracker(args: argparse.Namespace):
    """--tracker, or SAM2Long's settings when any of its flags is given."""
    given = {name: getattr(args, name) for name in ("num_pathway", "iou_thre", "uncertainty")
             if getattr(args, name) is not None}
    if not given:
        return args.tracker
    if args.tracker not in (None, "sam2long"):
        raise SystemExit(f"--{', --'.join(given)}: SAM2Long's settings, not {args.tracker}'s (use --tracker sam2long)")
    try:
        return Sam2LongSettings(**given)
    except ValueError as error:
        raise SystemExit(f"SAM2Long's settings: {error}")


def main(argv=None) -> int:
    args = parse_args(argv)
    tracker = chosen_tracker(args)
    configure_from_environment()
    options = VosOptions(args.score_thresh, args.use_all_masks, args.per_obj_png_file,
                         args.track_object_appearing_later_in_video)
    checkpoint = Path(args.sam2_checkpoint)  # absolute: Ray workers run in folders of their own
    model = ModelSpec(args.sam2_cfg, str(checkpoint.resolve()) if checkpoint.is_file() else args.sam2_checkpoint,
                      args.apply_postprocessing,
                      args.use_vos_optimized_video_predictor, tracker)
    job = VosJob(model, Path(args.base_video_dir).resolve(), Path(args.input_mask_dir).resolve(),
                 Path(args.output_mask_dir).resolve(), options)
    names = video_names(job.base_video_dir, args.video_list_file and Path(args.video_list_file))
    return run_here(job, names) if args.ray is None else run_on_cluster(job, names, args)


if __name__ == "__main__":
    sys.exit(main())
