"""Tracks one object through a video with the official API only (nothing process-wide changed)
and prints the resident MiB after each listed frame as JSON: run in a fresh process by
test_long_video_memory.py.

    python tests/long_video_worker.py CONFIG CHECKPOINT IMAGE_SIZE VIDEO FRAME [FRAME ...]
"""

import json
import sys

import torch

from oracle.metrics import resident_mb
from sam2.build_sam import build_sam2_video_predictor


def main(config: str, checkpoint: str, image_size: str, video: str, *frames: str) -> None:
    torch.manual_seed(0)
    predictor = build_sam2_video_predictor(config, checkpoint, device="cpu",
                                           hydra_overrides_extra=[f"++model.image_size={image_size}"])
    state = predictor.init_state(video)
    predictor.add_new_points_or_box(state, 0, 1, points=[[state["video_width"] / 2, state["video_height"] / 2]],
                                    labels=[1])
    wanted = {int(frame) for frame in frames}
    resident = {}
    for frame_idx, _, _ in predictor.propagate_in_video(state):
        if frame_idx in wanted:
            resident[frame_idx] = resident_mb()
    print(json.dumps(resident))


if __name__ == "__main__":
    main(*sys.argv[1:])
