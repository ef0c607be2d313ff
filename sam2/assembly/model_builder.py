"""Wire the model's modules from a :class:`ModelConfig`, and build one from files."""

import functools
from typing import Iterable, List, Optional, Type, TypeVar

import torch
from torch import nn

from ..modeling.hiera import Hiera
from ..modeling.image_encoder import FpnNeck, ImageEncoder
from ..modeling.memory_attention import MemoryAttention, MemoryAttentionLayer
from ..modeling.memory_encoder import MemoryEncoder
from ..modeling.memory_pooling import LandmarkPooling
from ..modeling.perceiver import SpatialPerceiver
from ..modeling.sam2_base import SAM2Base
from ..modeling.timm_trunk import TimmFeatures
from ..modeling.vit import PlainVit, SingleLevelNeck
from .checkpoint import Layout, layout_of, load_checkpoint
from .configs import PRESETS, HieraTrunk, ModelConfig, TimmTrunk, VitTrunk, get_config, with_image_size
from .overrides import parse_overrides, tracker_from_keys
from .yaml_config import is_config_file, read_config_file

Model = TypeVar("Model", bound=SAM2Base)


def build_image_encoder(config: ModelConfig) -> ImageEncoder:
    """Trunk and neck of ``config``: Hiera or a timm trunk with the FPN neck (the coarsest level
    dropped), or the ViT with its single-level neck."""
    trunk = config.trunk
    if isinstance(trunk, VitTrunk):
        vit = PlainVit(
            trunk.embed_dim, trunk.depth, trunk.num_heads, window_size=trunk.window_size,
            window_blocks=trunk.window_blocks, patch_size=trunk.patch_size, pretrain_grid=trunk.pretrain_grid,
        )
        return ImageEncoder(vit, SingleLevelNeck(config.hidden_dim, trunk.channel_list), scalp=0)
    if isinstance(trunk, TimmTrunk):
        features = TimmFeatures(trunk.model_name, trunk.channels)
    elif isinstance(trunk, HieraTrunk):
        features = Hiera(
            embed_dim=trunk.embed_dim,
            num_heads=trunk.num_heads,
            stages=trunk.stages,
            global_att_blocks=trunk.global_att_blocks,
            window_spec=trunk.window_spec,
            window_pos_embed_bkg_spatial_size=trunk.window_pos_embed_bkg_spatial_size,
        )
    else:
        raise TypeError(f"unknown trunk config {trunk!r}")
    return ImageEncoder(features, FpnNeck(config.hidden_dim, trunk.channel_list, fpn_top_down_levels=(2, 3)), scalp=1)


def build_model(config: ModelConfig, model_class: Type[Model] = SAM2Base, **kwargs) -> Model:
    """Construct an uninitialized-weights model of ``config``; kwargs go to ``model_class``."""
    image_encoder = build_image_encoder(config)
    pooling = None if config.landmark_shift is None else LandmarkPooling(config.landmark_shift)
    memory_attention = MemoryAttention(
        config.hidden_dim,
        nn.ModuleList(
            MemoryAttentionLayer(
                config.hidden_dim, config.mem_dim, config.memory_attention_ffn_dim, config.memory_attention_heads
            )
            for _ in range(config.memory_attention_layers)
        ),
        pooling=pooling,
    )
    memory_encoder = MemoryEncoder(config.hidden_dim, config.mem_dim, config.fuser_layers)
    perceiver = None
    if config.spatial_perceiver is not None:
        spec = config.spatial_perceiver
        perceiver = SpatialPerceiver(
            config.mem_dim, spec.global_latents, spec.grid_latents, spec.depth, spec.heads, spec.head_dim, spec.ff_mult
        )
        perceiver.check_grid(config.image_size // 16, config.image_size // 16)
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
        use_high_res_features=config.high_res_features,
        spatial_perceiver=perceiver,
    )
    settings.update(kwargs)
    model = model_class(image_encoder, memory_attention, memory_encoder, **settings)
    model.model_config = config  # which preset it is (sam2.assembly.resizing reads it)
    return model


@functools.lru_cache(maxsize=None)
def preset_layout(preset: str) -> Layout:
    """Names and shapes of a preset's parameters and buffers (built on the meta device: no memory)."""
    with torch.device("meta"):
        model = build_model(PRESETS[preset])
    return layout_of(model.state_dict())


def presets_with_layout(layout: Layout) -> List[str]:
    """The presets whose parameters have exactly these names and shapes (input sizes and
    attention variants share a layout, so there may be several)."""
    return [name for name in PRESETS if preset_layout(name) == layout]


def _default_device(device) -> torch.device:
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def build_from_files(
    model_class: Type[Model], config_file: str, ckpt_path: Optional[str] = None, device=None,
    mode: str = "eval", hydra_overrides_extra: Iterable[str] = (), apply_postprocessing: bool = True, **kwargs,
) -> Model:
    """``model_class`` built from an official config name (or an official-format YAML file)
    and checkpoint, on ``device``
    (None: CUDA if present). ``apply_postprocessing`` turns on the class's
    ``postprocessing_defaults``; overrides and ``kwargs`` win over them."""
    options = parse_overrides(hydra_overrides_extra)
    if is_config_file(config_file):
        from_file = read_config_file(config_file)
        config, file_options = from_file.config, [from_file.options]
    else:
        config, file_options = get_config(config_file), []
    if options.image_size is not None:
        config = with_image_size(config, options.image_size)
    settings = dict(model_class.postprocessing_defaults) if apply_postprocessing else {}
    tracker_keys, tracker = {}, None
    for chosen in (*file_options, options):  # the file's options, then the overrides
        settings.update(chosen.model_kwargs)
        settings.update(chosen.predictor_kwargs)
        tracker_keys.update(chosen.tracker_keys)
        tracker = chosen.tracker or tracker
    tracker = tracker_from_keys(tracker_keys) or tracker
    if tracker is not None and getattr(model_class, "tracks_videos", False):
        settings["tracker"] = tracker
    settings.update(kwargs)
    model = build_model(config, model_class, **settings)
    if ckpt_path is not None:
        load_checkpoint(model, ckpt_path, f"config {config.name}", presets_with_layout)
    model = model.to(_default_device(device))
    if mode == "eval":
        model.eval()
    return model
