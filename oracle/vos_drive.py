"""Drive whichever ``sam2`` is first on PYTHONPATH (ours or the reference) through a VOS dataset
the way the official ``tools/vos_inference.py`` drives it (``vos.inference``: only official API
names), on the CPU in float32:

    python oracle/vos_drive.py --config C --checkpoint W --videos DIR --inputs DIR --out DIR
        [--image-size 512] [--per-object] [--later]

Put the checkout *after* the package under test on PYTHONPATH (for ``vos``).
"""

import argparse
from pathlib import Path

import torch

from sam2.build_sam import build_sam2_video_predictor
from vos.inference import VosOptions, segment_video, video_input, video_names


def main() -> None:
    parser = argparse.ArgumentParser()
    for flag in ("--config", "--checkpoint", "--videos", "--inputs", "--out"):
        parser.add_argument(flag, required=True)
    parser.add_argument("--image-size", type=int)
    parser.add_argument("--per-object", action="store_true")
    parser.add_argument("--later", action="store_true")
    args = parser.parse_args()
    options = VosOptions(per_obj_png_file=args.per_object, track_object_appearing_later_in_video=args.later)
    overrides = options.builder_overrides() + ([f"++model.image_size={args.image_size}"] if args.image_size else [])
    predictor = build_sam2_video_predictor(args.config, args.checkpoint, device="cpu", apply_postprocessing=False,
                                           hydra_overrides_extra=overrides)
    with torch.inference_mode():
        for name in video_names(Path(args.videos)):
            video = video_input(Path(args.videos), name, open_video=None)  # JPEG folders only
            segment_video(predictor, video, Path(args.inputs), Path(args.out), options)


if __name__ == "__main__":
    main()
