"""Model presets as dataclasses: SAM 2.0 / 2.1 x tiny, small, base_plus, large; EdgeTAM; the
eight EfficientTAM checkpoints; plus tiny test models of each family."""

import math
import os
from dataclasses import dataclass, field, replace
from typing import Dict, Optional, Tuple, Union

from ..modeling.memory_pooling import LANDMARK_KEY_SHIFT, LANDMARK_SCORE_SHIFT


@dataclass(frozen=True)
class HieraTrunk:
    """Hiera trunk shape (SAM 2 and 2.1)."""

    embed_dim: int
    num_heads: int
    stages: Tuple[int, ...]
    global_att_blocks: Tuple[int, ...]
    window_spec: Tuple[int, ...] = (8, 4, 14, 7)
    window_pos_embed_bkg_spatial_size: Tuple[int, int] = (14, 14)

    @property
    def channel_list(self) -> Tuple[int, ...]:
        """Channels of each stage, coarsest first (what the FPN neck expects)."""
        return tuple(self.embed_dim * 2**i for i in reversed(range(len(self.stages))))


@dataclass(frozen=True)
class TimmTrunk:
    """A convolutional feature extractor from the timm library (EdgeTAM: RepViT-M1), built
    without downloading anything; ``channels`` of its four levels (strides 4 to 32), finest first."""

    model_name: str
    channels: Tuple[int, ...]

    @property
    def channel_list(self) -> Tuple[int, ...]:
        return tuple(reversed(self.channels))


@dataclass(frozen=True)
class VitTrunk:
    """A plain ViT with windowed attention except in every third block (EfficientTAM), and an
    absolute position embedding learnt on a ``pretrain_grid`` square of patches (plus a class token)."""

    embed_dim: int
    depth: int
    num_heads: int
    window_size: int = 14
    window_blocks: Tuple[int, ...] = (0, 1, 3, 4, 6, 7, 9, 10)
    patch_size: int = 16
    pretrain_grid: int = 14

    @property
    def channel_list(self) -> Tuple[int, ...]:
        return (self.embed_dim,)


Trunk = Union[HieraTrunk, TimmTrunk, VitTrunk]


@dataclass(frozen=True)
class PerceiverConfig:
    """EdgeTAM's spatial perceiver: each stored frame's memory becomes ``global_latents``
    latents that attend to the whole frame plus a square grid of ``grid_latents`` latents,
    each attending to its own window of the frame."""

    global_latents: int = 256
    grid_latents: int = 256
    depth: int = 2
    heads: int = 1
    head_dim: int = 64
    ff_mult: int = 4


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to build a model of the family with the official parameter layout."""

    name: str
    trunk: Trunk
    version: str = "2.1"
    image_size: int = 1024
    hidden_dim: int = 256
    mem_dim: int = 64
    num_maskmem: int = 7
    memory_attention_layers: int = 4
    memory_attention_heads: int = 1
    memory_attention_ffn_dim: int = 2048
    fuser_layers: int = 2
    decoder_heads: int = 8
    decoder_mlp_dim: int = 2048
    iou_head_hidden_dim: int = 256
    mask_in_chans: int = 16
    max_obj_ptrs_in_encoder: int = 16
    max_cond_frames_in_attn: int = -1
    sigmoid_scale_for_mem_enc: float = 20.0
    sigmoid_bias_for_mem_enc: float = -10.0
    # The mask decoder adds the trunk's two finest levels (not with EfficientTAM's single-level ViT).
    high_res_features: bool = True
    spatial_perceiver: Optional[PerceiverConfig] = None
    # EfficientTAM's efficient cross-attention: how landmark keys are weighed (see memory_pooling).
    landmark_shift: Optional[str] = None
    family: str = field(default="SAM 2", compare=False)

    @property
    def is_v21(self) -> bool:
        """SAM 2.1 adds a no-object spatial embedding and temporal encodings of object pointers."""
        return self.version == "2.1"


_TINY = HieraTrunk(96, 1, (1, 2, 7, 2), (5, 7, 9), window_pos_embed_bkg_spatial_size=(7, 7))
_SMALL = HieraTrunk(96, 1, (1, 2, 11, 2), (7, 10, 13), window_pos_embed_bkg_spatial_size=(7, 7))
_BASE_PLUS = HieraTrunk(112, 2, (2, 3, 16, 3), (12, 16, 20))
_LARGE = HieraTrunk(
    144, 2, (2, 6, 36, 4), (23, 33, 43), window_spec=(8, 4, 16, 8), window_pos_embed_bkg_spatial_size=(7, 7)
)

_SIZES = {"t": ("tiny", _TINY), "s": ("small", _SMALL), "b+": ("base_plus", _BASE_PLUS), "l": ("large", _LARGE)}

PRESETS: Dict[str, ModelConfig] = {}
for _short, (_size_name, _trunk) in _SIZES.items():
    PRESETS[f"sam2_hiera_{_short}"] = ModelConfig(f"sam2_hiera_{_short}", _trunk, version="2.0")
    PRESETS[f"sam2.1_hiera_{_short}"] = ModelConfig(f"sam2.1_hiera_{_short}", _trunk, version="2.1")

# EdgeTAM (configs/edgetam.yaml): RepViT-M1 trunk, SAM 2.0's flags, two memory attention
# layers, and memories compressed by the spatial perceiver.
PRESETS["edgetam"] = ModelConfig(
    "edgetam", TimmTrunk("repvit_m1.dist_in1k", (48, 96, 192, 384)), version="2.0", memory_attention_layers=2,
    spatial_perceiver=PerceiverConfig(), family="EdgeTAM",
)

# EfficientTAM (configs/efficienttam/*.yaml): a plain ViT, no high-resolution features, SAM 2.0's
# flags; "_1" and "_2" attend to pooled memories, "_512x512" run at 512 px.
_VIT_SIZES = {"s": VitTrunk(384, 12, 6), "ti": VitTrunk(192, 12, 3)}
_EFFICIENT_VARIANTS = {"": {}, "_1": dict(landmark_shift=LANDMARK_SCORE_SHIFT),
                       "_2": dict(landmark_shift=LANDMARK_KEY_SHIFT), "_512x512": dict(image_size=512)}
for _short, _vit in _VIT_SIZES.items():
    for _suffix, _settings in _EFFICIENT_VARIANTS.items():
        _name = f"efficienttam_{_short}{_suffix}"
        PRESETS[_name] = ModelConfig(
            _name, _vit, version="2.0", high_res_features=False, family="EfficientTAM", **_settings
        )

# Very small random-weights models for fast tests (not loadable by the official code).
_TEST_SIZES = dict(
    image_size=128, hidden_dim=32, mem_dim=16, memory_attention_layers=2, memory_attention_ffn_dim=64,
    decoder_heads=2, decoder_mlp_dim=64, iou_head_hidden_dim=32, mask_in_chans=8,
)
PRESETS["test_tiny"] = ModelConfig(
    "test_tiny",
    HieraTrunk(8, 1, (1, 1, 2, 1), (3,), window_spec=(4, 2, 4, 2), window_pos_embed_bkg_spatial_size=(4, 4)),
    **_TEST_SIZES,
)
PRESETS["test_tiny_perceiver"] = ModelConfig(
    "test_tiny_perceiver", PRESETS["test_tiny"].trunk, version="2.0",
    spatial_perceiver=PerceiverConfig(global_latents=8, grid_latents=16, head_dim=16), family="EdgeTAM", **_TEST_SIZES,
)
PRESETS["test_tiny_vit"] = ModelConfig(
    "test_tiny_vit", VitTrunk(16, 3, 2, window_size=3, window_blocks=(0, 1), pretrain_grid=4), version="2.0",
    high_res_features=False, landmark_shift=LANDMARK_SCORE_SHIFT, family="EfficientTAM", **_TEST_SIZES,
)

_ALIASES = {"hiera_tiny": "t", "hiera_small": "s", "hiera_base_plus": "b+", "hiera_large": "l", "hiera_b": "b+"}


def config_name(config_file: str) -> str:
    """Normalize an official config path ("configs/sam2.1/sam2.1_hiera_t.yaml") or a short
    name ("sam2.1_hiera_t", "sam2.1_hiera_tiny") to a preset key."""
    name = os.path.basename(str(config_file))
    for suffix in (".yaml", ".yml"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    if name in PRESETS:
        return name
    for long_name, short in _ALIASES.items():
        if name.endswith(long_name):
            candidate = name[: -len(long_name)] + f"hiera_{short}"
            if candidate in PRESETS:
                return candidate
    raise ValueError(f"unknown model config {config_file!r}; known: {', '.join(sorted(PRESETS))}")


def get_config(config_file: str) -> ModelConfig:
    """The preset for an official or short config name."""
    return PRESETS[config_name(config_file)]


def image_size_step(config: ModelConfig) -> int:
    """Input sizes ``config`` runs at are multiples of this: 32, or with EdgeTAM's spatial
    perceiver 16 px (the image embedding's stride) per row of its grid of windows: 256."""
    if config.spatial_perceiver is None:
        return 32
    return 16 * math.isqrt(config.spatial_perceiver.grid_latents)


def checked_image_size(image_size: int, step: int = 32, model: str = "a model") -> int:
    """``image_size`` if ``model`` can run at it (a positive multiple of ``step``), else ValueError."""
    if image_size <= 0 or image_size % step:
        raise ValueError(f"image_size must be a positive multiple of {step} for {model}, got {image_size}")
    return image_size


def with_image_size(config: ModelConfig, image_size: int) -> ModelConfig:
    """The same model run at another input resolution (see :func:`image_size_step`)."""
    return replace(config, image_size=checked_image_size(image_size, image_size_step(config), config.name))
