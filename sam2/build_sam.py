"""Builders with the official signatures: config name + checkpoint -> model or predictor."""

import logging
import os
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, Optional, Tuple, Type

import torch
from torch import nn

from .configs import ModelConfig, get_config, with_image_size
from .modeling.hiera import Hiera
from .modeling.image_encoder import FpnNeck, ImageEncoder
from .modeling.memory_attention import MemoryAttention, MemoryAttentionLayer
from .modeling.memory_encoder import MemoryEncoder
from .modeling.sam2_base import SAM2Base

logger = logging.getLogger(__name__)

HF_MODEL_ID_TO_FILENAMES: Dict[str, Tuple[str, str]] = {
    "facebook/sam2-hiera-tiny": ("configs/sam2/sam2_hiera_t.yaml", "sam2_hiera_tiny.pt"),
    "facebook/sam2-hiera-small": ("configs/sam2/sam2_hiera_s.yaml", "sam2_hiera_small.pt"),
    "facebook/sam2-hiera-base-plus": ("configs/sam2/sam2_hiera_b+.yaml", "sam2_hiera_base_plus.pt"),
    "facebook/sam2-hiera-large": ("configs/sam2/sam2_hiera_l.yaml", "sam2_hiera_large.pt"),
    "facebook/sam2.1-hiera-tiny": ("configs/sam2.1/sam2.1_hiera_t.yaml", "sam2.1_hiera_tiny.pt"),
    "facebook/sam2.1-hiera-small": ("configs/sam2.1/sam2.1_hiera_s.yaml", "sam2.1_hiera_small.pt"),
    "facebook/sam2.1-hiera-base-plus": ("configs/sam2.1/sam2.1_hiera_b+.yaml", "sam2.1_hiera_base_plus.pt"),
    "facebook/sam2.1-hiera-large": ("configs/sam2.1/sam2.1_hiera_l.yaml", "sam2.1_hiera_large.pt"),
}


@dataclass
class BuildOptions:
    """Run-time options of a built model (what the official Hydra overrides can set)."""

    image_size: Optional[int] = None
    postprocessing: bool = True
    model_kwargs: Dict[str, Any] = field(default_factory=dict)
    predictor_kwargs: Dict[str, Any] = field(default_factory=dict)


# Override keys ("++model.<key>=<value>") and where they go.
_MODEL_OVERRIDES = {"binarize_mask_from_pts_for_mem_enc", "max_cond_frames_in_attn", "num_maskmem"}
_DECODER_OVERRIDES = {
    "dynamic_multimask_via_stability", "dynamic_multimask_stability_delta", "dynamic_multimask_stability_thresh",
}
_PREDICTOR_OVERRIDES = {"fill_hole_area", "non_overlap_masks", "add_all_frames_to_correct_as_cond"}
_IGNORED_OVERRIDES = {"_target_", "compile_image_encoder"}


def _parse_value(text: str) -> Any:
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def apply_overrides(options: BuildOptions, overrides: Iterable[str]) -> BuildOptions:
    """Apply Hydra-style overrides such as "++model.image_size=512" to build options."""
    for override in overrides:
        key, sep, raw = override.lstrip("+").partition("=")
        if not sep or not key.startswith("model."):
            raise ValueError(f"unsupported override {override!r}: expected '++model.<key>=<value>'")
        key, value = key[len("model."):], _parse_value(raw)
        if key.startswith("sam_mask_decoder_extra_args."):
            key = key.split(".", 1)[1]
        if key == "image_size":
            options.image_size = int(value)
        elif key in _MODEL_OVERRIDES or key in _DECODER_OVERRIDES:
            options.model_kwargs[key] = value
        elif key in _PREDICTOR_OVERRIDES:
            options.predictor_kwargs[key] = value
        elif key not in _IGNORED_OVERRIDES:
            supported = sorted(_MODEL_OVERRIDES | _DECODER_OVERRIDES | _PREDICTOR_OVERRIDES | {"image_size"})
            raise ValueError(f"unsupported override key {key!r}; supported: {', '.join(supported)}")
    return options


def build_model(config: ModelConfig, model_class: Type[SAM2Base] = SAM2Base, **kwargs) -> SAM2Base:
    """Construct an uninitialized-weights model of ``config``; kwargs go to ``model_class``."""
    trunk = config.trunk
    image_encoder = ImageEncoder(
        Hiera(
            embed_dim=trunk.embed_dim,
            num_heads=trunk.num_heads,
            stages=trunk.stages,
            global_att_blocks=trunk.global_att_blocks,
            window_spec=trunk.window_spec,
            window_pos_embed_bkg_spatial_size=trunk.window_pos_embed_bkg_spatial_size,
        ),
        FpnNeck(config.hidden_dim, trunk.channel_list, fpn_top_down_levels=(2, 3)),
        scalp=1,
    )
    memory_attention = MemoryAttention(
        config.hidden_dim,
        nn.ModuleList(
            MemoryAttentionLayer(
                config.hidden_dim, config.mem_dim, config.memory_attention_ffn_dim, config.memory_attention_heads
            )
            for _ in range(config.memory_attention_layers)
        ),
    )
    memory_encoder = MemoryEncoder(config.hidden_dim, config.mem_dim, config.fuser_layers)
    settings = dict(
        image_size=config.image_size,
        num_maskmem=config.num_maskmem,
        mem_dim=config.mem_dim,
        decoder_heads=config.decoder_heads,
        decoder_mlp_dim=config.decoder_mlp_dim,
        iou_head_hidden_dim=config.iou_head_hidden_dim,
        mask_in_chans=config.mask_in_chans,
        max_obj_ptrs_in_encoder=config.max_obj_ptrs_in_encoder,
        max_cond_frames_in_attn=config.max_cond_frames_in_attn,
        temporal_obj_ptr_encoding=config.is_v21,
        no_obj_embed_spatial=config.is_v21,
        sigmoid_scale_for_mem_enc=config.sigmoid_scale_for_mem_enc,
        sigmoid_bias_for_mem_enc=config.sigmoid_bias_for_mem_enc,
    )
    settings.update(kwargs)
    return model_class(image_encoder, memory_attention, memory_encoder, **settings)


class CheckpointMismatchError(RuntimeError):
    """The checkpoint's parameter names or shapes do not match the model."""


def load_checkpoint(model: nn.Module, ckpt_path: str) -> None:
    """Load ``{"model": state_dict}`` strictly; raise with the missing/unexpected keys."""
    if not os.path.isfile(ckpt_path):
        raise FileNotFoundError(f"checkpoint not found: {ckpt_path}")
    try:
        payload = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ValueError(f"cannot read checkpoint {ckpt_path}: {error}") from error
    state = payload.get("model") if isinstance(payload, dict) else None
    if not isinstance(state, dict):
        raise ValueError(f"checkpoint {ckpt_path} has no 'model' state dict")
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong_shape = sorted(
        f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in set(state) & set(expected)
        if tuple(state[k].shape) != tuple(expected[k].shape)
    )
    if missing or unexpected or wrong_shape:
        def listing(title, keys):
            shown = ", ".join(keys[:20]) + (f", ... ({len(keys)} in all)" if len(keys) > 20 else "")
            return f"\n  {title} ({len(keys)}): {shown}" if keys else ""

        raise CheckpointMismatchError(
            f"checkpoint {ckpt_path} does not match the model config (wrong config for these weights?)"
            + listing("missing keys", missing)
            + listing("unexpected keys", unexpected)
            + listing("shape mismatches", wrong_shape)
        )
    model.load_state_dict(state, strict=True)
    logger.info("loaded checkpoint %s", ckpt_path)


def _default_device(device) -> torch.device:
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _build(config_file, ckpt_path, device, mode, overrides, model_class, postprocessing_kwargs, extra_kwargs):
    options = apply_overrides(BuildOptions(), overrides)
    config = get_config(config_file)
    if options.image_size is not None:
        config = with_image_size(config, options.image_size)
    kwargs = dict(postprocessing_kwargs)
    kwargs.update(options.model_kwargs)
    kwargs.update(options.predictor_kwargs)
    kwargs.update(extra_kwargs)
    model = build_model(config, model_class, **kwargs)
    if ckpt_path is not None:
        load_checkpoint(model, ckpt_path)
    model = model.to(_default_device(device))
    if mode == "eval":
        model.eval()
    return model


_STABILITY_FALLBACK = dict(
    dynamic_multimask_via_stability=True,
    dynamic_multimask_stability_delta=0.05,
    dynamic_multimask_stability_thresh=0.98,
)


def build_sam2(
    config_file: str, ckpt_path: Optional[str] = None, device=None, mode: str = "eval",
    hydra_overrides_extra=(), apply_postprocessing: bool = True, **kwargs,
) -> SAM2Base:
    """Build the SAM 2 model (for SAM2ImagePredictor). ``device=None`` picks CUDA if present."""
    post = _STABILITY_FALLBACK if apply_postprocessing else {}
    return _build(config_file, ckpt_path, device, mode, hydra_overrides_extra, SAM2Base, post, kwargs)


def build_sam2_video_predictor(
    config_file: str, ckpt_path: Optional[str] = None, device=None, mode: str = "eval",
    hydra_overrides_extra=(), apply_postprocessing: bool = True, vos_optimized: bool = False, **kwargs,
):
    """Build a SAM2VideoPredictor. With ``apply_postprocessing`` it binarizes click masks for
    the memory encoder, fills holes up to 8 pixels and falls back to stable multimask outputs."""
    from .sam2_video_predictor import SAM2VideoPredictor

    post = {}
    if apply_postprocessing:
        post = dict(_STABILITY_FALLBACK, binarize_mask_from_pts_for_mem_enc=True, fill_hole_area=8)
    if vos_optimized:
        kwargs.setdefault("vos_optimized", True)
    return _build(config_file, ckpt_path, device, mode, hydra_overrides_extra, SAM2VideoPredictor, post, kwargs)


def _hf_download(model_id: str) -> Tuple[str, str]:
    """(config name, local checkpoint path) of a hub model, downloaded through huggingface_hub."""
    if model_id not in HF_MODEL_ID_TO_FILENAMES:
        raise ValueError(f"unknown model id {model_id!r}; known: {', '.join(HF_MODEL_ID_TO_FILENAMES)}")
    from huggingface_hub import hf_hub_download

    config_file, filename = HF_MODEL_ID_TO_FILENAMES[model_id]
    return config_file, hf_hub_download(repo_id=model_id, filename=filename)


def build_sam2_hf(model_id: str, **kwargs) -> SAM2Base:
    config_file, ckpt_path = _hf_download(model_id)
    return build_sam2(config_file=config_file, ckpt_path=ckpt_path, **kwargs)


def build_sam2_video_predictor_hf(model_id: str, **kwargs):
    config_file, ckpt_path = _hf_download(model_id)
    return build_sam2_video_predictor(config_file=config_file, ckpt_path=ckpt_path, **kwargs)
