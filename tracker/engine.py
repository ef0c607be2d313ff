"""The shared model: one predictor for all sessions, run in the fastest safe precision."""

import contextlib
from dataclasses import dataclass
from typing import Iterator, List, Optional

import torch

from sam2.runtime.memory_policy import DEFAULT_MEMORY_POLICY, MemoryPolicy
from sam2.runtime.precision import autocast_context, dtype_name, fastest_safe_dtype
from sam2.sam2_video_predictor import SAM2VideoPredictor

from .settings import AppSettings

# Input sizes offered besides the model's own: fewer pixels track faster on a CPU, with coarser masks.
SMALLER_SIZES = (512, 768)


def device_label(device: torch.device) -> str:
    """The device as a person would name it, e.g. "cuda (NVIDIA L4)", "mps" or "cpu"."""
    device = torch.device(device)
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type


@dataclass
class Engine:
    """A loaded predictor, the name shown to users, and the autocast dtype it runs in.

    ``native_image_size``: the input size of the checkpoint (default: the predictor's); an
    engine at another size shares the parameters of the one at this size.
    ``memory_policy``: the memory limits of every session the engine opens.
    """

    predictor: SAM2VideoPredictor
    name: str
    dtype: Optional[torch.dtype] = None
    native_image_size: Optional[int] = None
    memory_policy: MemoryPolicy = DEFAULT_MEMORY_POLICY

    def __post_init__(self) -> None:
        if self.native_image_size is None:
            self.native_image_size = self.predictor.image_size

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
    def image_size(self) -> int:
        """The predictor's input size (frames are resized to this square)."""
        return self.predictor.image_size

    @property
    def precision_name(self) -> str:
        return dtype_name(self.dtype)

    @property
    def description(self) -> str:
        """What the page says about the model, e.g. "**facebook/sam2.1-hiera-tiny** on cpu (float32)"."""
        return f"**{self.name}** on {device_label(self.predictor.device)} ({self.precision_name})"


def size_choices(engine: Engine) -> List[int]:
    """Input sizes offered for ``engine``'s model: 512, 768 and its native size, none above that."""
    native = engine.native_image_size
    return sorted({size for size in SMALLER_SIZES if size < native} | {native})


def default_image_size(engine: Engine, settings: AppSettings) -> int:
    """The input size a session starts at: ``settings.image_size`` when set; else the native size
    on GPUs and on CPUs that run the model in bfloat16; else (float32 CPUs) 512, or the native
    size when that is smaller."""
    if settings.image_size is not None:
        return settings.image_size
    if engine.predictor.device.type in ("cuda", "mps") or engine.dtype == torch.bfloat16:
        return engine.native_image_size
    return min(SMALLER_SIZES[0], engine.native_image_size)
