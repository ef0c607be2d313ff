"""The official EfficientTAM builders, by config name (``configs/efficienttam/efficienttam_s.yaml``)
or hub id (``facebook/efficienttam_s``); ``device=None`` picks CUDA when present, else the CPU."""

from typing import Optional

from sam2.assembly.hub import HUB_CHECKPOINTS
from sam2.build_sam import build_sam2, build_sam2_hf, build_sam2_video_predictor, build_sam2_video_predictor_hf
from sam2.modeling.sam2_base import SAM2Base
from sam2.sam2_video_predictor import SAM2VideoPredictor

# The official table: hub id -> (config name, checkpoint file name).
HF_MODEL_ID_TO_FILENAMES = {
    model_id: (checkpoint.config, checkpoint.local_name)
    for model_id, checkpoint in HUB_CHECKPOINTS.items()
    if "/efficienttam" in model_id
}


def build_efficienttam(
    config_file: str, ckpt_path: Optional[str] = None, device=None, mode: str = "eval",
    hydra_overrides_extra=(), apply_postprocessing: bool = True, **kwargs,
) -> SAM2Base:
    """The EfficientTAM model (for ``EfficientTAMImagePredictor``)."""
    return build_sam2(config_file, ckpt_path, device, mode, hydra_overrides_extra, apply_postprocessing, **kwargs)


def build_efficienttam_video_predictor(
    config_file: str, ckpt_path: Optional[str] = None, device=None, mode: str = "eval",
    hydra_overrides_extra=(), apply_postprocessing: bool = True, vos_optimized: bool = False, **kwargs,
) -> SAM2VideoPredictor:
    """An EfficientTAM video predictor (the SAM 2 video predictor's API)."""
    return build_sam2_video_predictor(
        config_file, ckpt_path, device, mode, hydra_overrides_extra, apply_postprocessing, vos_optimized, **kwargs
    )


def build_efficienttam_hf(model_id: str, **kwargs) -> SAM2Base:
    return build_sam2_hf(model_id, **kwargs)


def build_efficienttam_video_predictor_hf(model_id: str, **kwargs) -> SAM2VideoPredictor:
    return build_sam2_video_predictor_hf(model_id, **kwargs)
