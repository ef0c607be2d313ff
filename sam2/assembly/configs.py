"""Model presets as dataclasses: SAM 2.0 / 2.1 x tiny, small, base_plus, large, plus a tiny test model."""

import os
from dataclasses import dataclass, replace
from typing import Dict, Tuple


@dataclass(frozen=True)
class TrunkConfig:
    """Hiera trunk shape."""

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
class ModelConfig:
    """Everything needed to build a SAM 2 model with the official parameter layout."""

    name: str
    trunk: TrunkConfig
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

    @property
    def is_v21(self) -> bool:
        """SAM 2.1 adds a no-object spatial embedding and temporal encodings of object pointers."""
        return self.version == "2.1"


_TINY = TrunkConfig(96, 1, (1, 2, 7, 2), (5, 7, 9), window_pos_embed_bkg_spatial_size=(7, 7))
_SMALL = TrunkConfig(96, 1, (1, 2, 11, 2), (7, 10, 13), window_pos_embed_bkg_spatial_size=(7, 7))
_BASE_PLUS = TrunkConfig(112, 2, (2, 3, 16, 3), (12, 16, 20))
_LARGE = TrunkConfig(
    144, 2, (2, 6, 36, 4), (23, 33, 43), window_spec=(8, 4, 16, 8), window_pos_embed_bkg_spatial_size=(7, 7)
)

_SIZES = {"t": ("tiny", _TINY), "s": ("small", _SMALL), "b+": ("base_plus", _BASE_PLUS), "l": ("large", _LARGE)}

PRESETS: Dict[str, ModelConfig] = {}
for _short, (_size_name, _trunk) in _SIZES.items():
    PRESETS[f"sam2_hiera_{_short}"] = ModelConfig(f"sam2_hiera_{_short}", _trunk, version="2.0")
    PRESETS[f"sam2.1_hiera_{_short}"] = ModelConfig(f"sam2.1_hiera_{_short}", _trunk, version="2.1")

# A very small random-weights model for fast tests (not loadable by the official code).
PRESETS["test_tiny"] = ModelConfig(
    "test_tiny",
    TrunkConfig(8, 1, (1, 1, 2, 1), (3,), window_spec=(4, 2, 4, 2), window_pos_embed_bkg_spatial_size=(4, 4)),
    image_size=128,
    hidden_dim=32,
    mem_dim=16,
    memory_attention_layers=2,
    memory_attention_ffn_dim=64,
    decoder_heads=2,
    decoder_mlp_dim=64,
    iou_head_hidden_dim=32,
    mask_in_chans=8,
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


def checked_image_size(image_size: int) -> int:
    """``image_size`` if a model can run at it (a positive multiple of 32), else ValueError."""
    if image_size <= 0 or image_size % 32:
        raise ValueError(f"image_size must be a positive multiple of 32, got {image_size}")
    return image_size


def with_image_size(config: ModelConfig, image_size: int) -> ModelConfig:
    """The same model run at another input resolution (a multiple of 32)."""
    return replace(config, image_size=checked_image_size(image_size))
