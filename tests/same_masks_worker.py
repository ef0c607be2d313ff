"""Tracks two objects through a video with the official API in a fresh process and saves every
frame's mask logits: run twice by test_attention_choice.py to compare processes bit for bit.

    python tests/same_masks_worker.py CHECKPOINT VIDEO OUT.npy [FORCED_WAY]
"""

import sys

import numpy as np
import torch

from sam2.build_sam import build_sam2_video_predictor
from sam2.runtime import attention


def main(checkpoint: str, video: str, out: str, forced_way: str = "") -> None:
    attention.forced_way = forced_way or None
    predictor = build_sam2_video_predictor("test_tiny", checkpoint, device="cpu",
                                           hydra_overrides_extra=["++model.image_size=512"])
    with torch.inference_mode():
        state = predictor.init_state(video)
        width, height = state["video_width"], state["video_height"]
        predictor.add_new_points_or_box(state, 0, 1, points=[[width * 0.3, height * 0.4]], labels=[1])
        predictor.add_new_points_or_box(state, 0, 2, points=[[width * 0.7, height * 0.6]], labels=[1])
        logits = [masks.numpy() for _, _, masks in predictor.propagate_in_video(state)]
    np.save(out, np.stack(logits))


if __name__ == "__main__":
    main(*sys.argv[1:])
