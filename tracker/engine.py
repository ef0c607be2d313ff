"""The shared model: one predictor for all sessions, run in the fastest safe precision."""

import contextlib
from dataclasses import dataclass
from typing import Iterator, Optional

import torch

from sam2.precision import autocast_context, dtype_name, fastest_safe_dtype
from sam2.sam2_video_predictor import SAM2VideoPredictor


def device_label(device: torch.device) -> str:
    """The device as a person would name it, e.g. "cuda (NVIDIA L4)", "mps" or "cpu"."""
    device = torch.device(device)
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type


@dataclass
class Engine:
    """A loaded predictor, the name shown to users, and the autocast dtype it runs in."""

    predictor: SAM2VideoPredictor
    name: str
    dtype: Optional[torch.dtype] = None

    @classmethod
    def wrap(cls, predictor: SAM2VideoPredictor, name: str) -> "Engine":
        # The app tracks from corrected frames onward, so corrections must condition the memory.
        predictor.add_all_frames_to_correct_as_cond = True
        return cls(predictor, name, fastest_safe_dtype(predictor.device))

    @contextlib.contextmanager
    def compute(self) -> Iterator[None]:
        """Context for model calls: inference mode plus the precision policy's autocast."""
        with torch.inference_mode(), autocast_context(self.predictor.device, self.dtype):
            yield

    @property
    def precision_name(self) -> str:
        return dtype_name(self.dtype)

    @property
    def description(self) -> str:
        """What the page says about the model, e.g. "**facebook/sam2.1-hiera-tiny** on cpu (float32)"."""
        return f"**{self.name}** on {device_label(self.predictor.device)} ({self.precision_name})"
