"""Masks for every frame of a VOS dataset from its given masks, with the official script's flags.

    python tools/vos_inference.py --sam2_cfg configs/sam2.1/sam2.1_hiera_t.yaml \\
        --sam2_checkpoint checkpoints/sam2.1_hiera_tiny.pt --base_video_dir JPEGImages \\
        --input_mask_dir Annotations --output_mask_dir predictions [--per_obj_png_file] ...

Videos are folders of JPEG frames or video files (``<name>.mp4`` and the other extensions the
predictor reads; masks then named 00000.png, 00001.png, ...). Output: indexed PNGs in the DAVIS
layout (the input's palette), or one PNG per object with ``--per_obj_png_file`` (SA-V).
"""

import argparse
import sys
from pathlib import Path

import torch
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from sam2.build_sam import build_sam2_video_predictor  # noqa: E402
from sam2.frames.video_file import VideoFileSource  # noqa: E402
from vos.inference import VosOptions, segment_video, video_input, video_names  # noqa: E402


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
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    options = VosOptions(args.score_thresh, args.use_all_masks, args.per_obj_png_file,
                         args.track_object_appearing_later_in_video)
    predictor = build_sam2_video_predictor(
        args.sam2_cfg, args.sam2_checkpoint, apply_postprocessing=args.apply_postprocessing,
        hydra_overrides_extra=options.builder_overrides(), vos_optimized=args.use_vos_optimized_video_predictor,
    )
    names = video_names(Path(args.base_video_dir), args.video_list_file and Path(args.video_list_file))
    # bf16 on GPUs, as the official script; float32 on CPUs.
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=predictor.device.type == "cuda")
    with torch.inference_mode(), autocast, tqdm(names, desc="videos", unit="video") as overall:
        for name in overall:
            try:
                video = video_input(Path(args.base_video_dir), name, VideoFileSource)
                try:
                    with tqdm(total=len(video.frames), desc=name, unit="frame", leave=False) as frames:
                        segment_video(predictor, video, Path(args.input_mask_dir), Path(args.output_mask_dir),
                                      options, progress=frames.update)
                finally:
                    video.close()
            except (RuntimeError, FileNotFoundError, ValueError) as error:
                print(f"error in video {name}: {error}", file=sys.stderr)
                return 1
    print(f"masks of {len(names)} videos written to {args.output_mask_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
