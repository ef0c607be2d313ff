"""The shared model: one predictor for all sessions, run in the fastest safe precision."""

import contextlib
from dataclasses import dataclass
from typing import Iterator, List, Optional

import torch

from sam2.models import ModelConfig, image_size_step
from sam2.runtime.memory_policy import DEFAULT_MEMORY_POLICY, MemoryPolicy
from sam2.runtime.precision import autocast_context, dtype_name, fastest_safe_dtype
from sam2.sam2_video_predictor import SAM2VideoPredictor

from ..settings import AppSettings

# How the app builds its predictors (official override syntax): it tracks from corrected frames
# onward, so corrections must condition the memory.
APP_OVERRIDES = ("++model.add_all_frames_to_correct_as_cond=true",)
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
    ``config``: the preset it was built from at its native size (None: not known).
    """

    predictor: SAM2VideoPredictor
    name: str
    dtype: Optional[torch.dtype] = None
    native_image_size: Optional[int] = None
    memory_policy: MemoryPolicy = DEFAULT_MEMORY_POLICY
    config: Optional[ModelConfig] = None

    def __post_init__(self) -> None:
        if self.native_image_size is None:
            self.native_image_size = self.predictor.image_size

    @classmethod
    def wrap(cls, predictor: SAM2VideoPredictor, name: str, config: Optional[ModelConfig] = None) -> "Engine":
        """An engine of a predictor built for the app (``APP_OVERRIDES``), in the fastest safe precision."""
        if not predictor.add_all_frames_to_correct_as_cond:
            raise ValueError(f"build the app's predictors with {APP_OVERRIDES}: corrections must condition the memory")
        return cls(predictor, name, fastest_safe_dtype(predictor.device), config=config)

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


def size_step(config: Optional[ModelConfig]) -> int:
    """Input sizes of the model are multiples of this (32 when its config is not known)."""
    return 32 if config is None else image_size_step(config)


def size_choices(engine: Engine) -> List[int]:
    """Input sizes offered for ``engine``'s model: 512, 768 (those it can run at) and its
    native size, none above that."""
    native, step = engine.native_image_size, size_step(engine.config)
    return sorted({size for size in SMALLER_SIZES if size < native and size % step == 0} | {native})


def default_image_size(engine: Engine, settings: AppSettings) -> int:
    """The input size a session starts at: ``settings.image_size`` when set (at most the
    model's own size, rounded down to a size the model runs at); else the native size on GPUs
    and on CPUs that run the model in bfloat16; else (float32 CPUs) 512, or the native size
    when that is smaller."""
    native = engine.native_image_size
    if settings.image_size is not None:
        step = size_step(engine.config)
        return min(native, max(step, settings.image_size // step * step))
    if engine.predictor.device.type in ("cuda", "mps") or engine.dtype == torch.bfloat16:
        return native
    return min(SMALLER_SIZES[0], native)


def offered_sizes(engine: Engine, settings: AppSettings) -> List[int]:
    """The input sizes the page offers for ``engine``'s model: its choices and its default."""
    return sorted({*size_choices(engine), default_image_size(engine, settings)})
