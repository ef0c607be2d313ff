"""The official builders: config name (or hub model id) + checkpoint -> model or predictor.

The work is done in :mod:`sam2.assembly`; this module keeps the official names and signatures,
and adds two of ours: :func:`checkpoint_config` (which config a checkpoint is) and
:func:`at_image_size` (a built model or predictor at another input size, sharing its weights).
"""

from typing import Optional

from .assembly.hub import HF_MODEL_ID_TO_FILENAMES, hub_files
from .assembly.model_builder import build_from_files
from .assembly.resizing import at_image_size, checkpoint_config
from .modeling.sam2_base import SAM2Base
from .sam2_video_predictor import SAM2VideoPredictor

__all__ = [
    "HF_MODEL_ID_TO_FILENAMES", "at_image_size", "build_sam2", "build_sam2_hf", "build_sam2_video_predictor",
    "build_sam2_video_predictor_hf", "checkpoint_config",
]


def build_sam2(
    config_file: str, ckpt_path: Optional[str] = None, device=None, mode: str = "eval",
    hydra_overrides_extra=(), apply_postprocessing: bool = True, **kwargs,
) -> SAM2Base:
    """The SAM 2 model (for SAM2ImagePredictor). ``device=None`` picks CUDA if present."""
    return build_from_files(
        SAM2Base, config_file, ckpt_path, device, mode, hydra_overrides_extra, apply_postprocessing, **kwargs
    )


def build_sam2_video_predictor(
    config_file: str, ckpt_path: Optional[str] = None, device=None, mode: str = "eval",
    hydra_overrides_extra=(), apply_postprocessing: bool = True, vos_optimized: bool = False, **kwargs,
) -> SAM2VideoPredictor:
    """A SAM2VideoPredictor. ``apply_postprocessing`` binarizes click masks for the memory
    encoder, fills holes up to 8 pixels and falls back to stable multimask outputs."""
    return build_from_files(
        SAM2VideoPredictor, config_file, ckpt_path, device, mode, hydra_overrides_extra, apply_postprocessing,
        vos_optimized=vos_optimized, **kwargs,
    )


def build_sam2_hf(model_id: str, **kwargs) -> SAM2Base:
    """The model of a hub id such as "facebook/sam2.1-hiera-tiny", weights from the hub cache."""
    return build_sam2(*hub_files(model_id), **kwargs)


def build_sam2_video_predictor_hf(model_id: str, **kwargs) -> SAM2VideoPredictor:
    """The video predictor of a hub id, weights from the hub cache."""
    return SAM2VideoPredictor.from_pretrained(model_id, **kwargs)
