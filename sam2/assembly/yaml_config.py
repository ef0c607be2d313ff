"""Official-format YAML model configs read without Hydra (nothing in them is executed).

An official config is a ``model:`` tree of ``_target_`` classes and their arguments. Each known
path of that tree has one rule here: it sets a field of :class:`ModelConfig`, must repeat what
another setting implies (a width, a channel list), must have the value this implementation
builds (a behaviour flag), or does not matter for inference (dropout, compilation). A class or
key without a rule, or a value this implementation does not build, is an error that names it.
Settings that are run-time options (those ``++model.<key>=...`` overrides also set) come back as
:class:`BuildOptions`.

Covered: SAM 2 and SAM 2.1 with the Hiera trunk (``configs/sam2*/sam2*_hiera_*.yaml`` and
fine-tunes of them), SAMURAI's configs of them (its keys choose the predictor's tracker) and
DAM4SAM's (``sam21pp_hiera_*.yaml``, ``sam2pp_hiera_*.yaml``: files of that name choose DAM4SAM,
their memory stride and conditioning-frame count become its settings).
"""

import os
from dataclasses import dataclass, replace
from typing import Any, Callable, Dict, Optional

from .configs import PRESETS, HieraTrunk, ModelConfig
from ..tracking import Dam4samSettings
from .overrides import TRACKER_OVERRIDES, BuildOptions, parse_overrides

# DAM4SAM's config files are named so (sam21pp_hiera_t.yaml, sam2pp_hiera_l.yaml, ...).
DAM4SAM_FILES = ("sam21pp_", "sam2pp_")

MODEL = "sam2.modeling.sam2_base.SAM2Base"
TARGETS = {
    "model": MODEL,
    "model.image_encoder": "sam2.modeling.backbones.image_encoder.ImageEncoder",
    "model.image_encoder.trunk": "sam2.modeling.backbones.hieradet.Hiera",
    "model.image_encoder.neck": "sam2.modeling.backbones.image_encoder.FpnNeck",
    "model.image_encoder.neck.position_encoding": "sam2.modeling.position_encoding.PositionEmbeddingSine",
    "model.memory_attention": "sam2.modeling.memory_attention.MemoryAttention",
    "model.memory_attention.layer": "sam2.modeling.memory_attention.MemoryAttentionLayer",
    "model.memory_attention.layer.self_attention": "sam2.modeling.sam.transformer.RoPEAttention",
    "model.memory_attention.layer.cross_attention": "sam2.modeling.sam.transformer.RoPEAttention",
    "model.memory_encoder": "sam2.modeling.memory_encoder.MemoryEncoder",
    "model.memory_encoder.position_encoding": "sam2.modeling.position_encoding.PositionEmbeddingSine",
    "model.memory_encoder.mask_downsampler": "sam2.modeling.memory_encoder.MaskDownSampler",
    "model.memory_encoder.fuser": "sam2.modeling.memory_encoder.Fuser",
    "model.memory_encoder.fuser.layer": "sam2.modeling.memory_encoder.CXBlock",
}

# Model fields: YAML path -> ModelConfig field (the official default when the key is absent).
FIELDS = {
    "model.image_size": ("image_size", 512),
    "model.num_maskmem": ("num_maskmem", 7),
    "model.sigmoid_scale_for_mem_enc": ("sigmoid_scale_for_mem_enc", 1.0),
    "model.sigmoid_bias_for_mem_enc": ("sigmoid_bias_for_mem_enc", 0.0),
    "model.max_obj_ptrs_in_encoder": ("max_obj_ptrs_in_encoder", 16),
    "model.max_cond_frames_in_attn": ("max_cond_frames_in_attn", -1),
    "model.use_high_res_features_in_sam": ("high_res_features", False),
    "model.image_encoder.neck.d_model": ("hidden_dim", None),
    "model.memory_attention.num_layers": ("memory_attention_layers", None),
    "model.memory_attention.layer.dim_feedforward": ("memory_attention_ffn_dim", None),
    "model.memory_attention.layer.self_attention.num_heads": ("memory_attention_heads", None),
    "model.memory_encoder.out_dim": ("mem_dim", None),
    "model.memory_encoder.fuser.num_layers": ("fuser_layers", None),
}
TRUNK = "model.image_encoder.trunk."
# The Hiera trunk's shape, with the official defaults of the keys a config leaves out.
TRUNK_FIELDS = {"embed_dim": 96, "num_heads": 1, "stages": (2, 3, 16, 3), "global_att_blocks": (12, 16, 20),
                "window_spec": (8, 4, 14, 7), "window_pos_embed_bkg_spatial_size": (14, 14)}

# What this implementation builds: YAML path -> (official default, the value built).
BEHAVIOUR = {
    "model.use_mask_input_as_output_without_sam": (False, True),
    "model.directly_add_no_mem_embed": (False, True),
    "model.multimask_output_in_sam": (False, True),
    "model.multimask_min_pt_num": (1, 0),
    "model.multimask_output_for_tracking": (False, True),
    "model.use_multimask_token_for_obj_ptr": (False, True),
    "model.iou_prediction_use_sigmoid": (False, True),
    "model.memory_temporal_stride_for_eval": (1, 1),
    "model.non_overlap_masks_for_mem_enc": (False, False),
    "model.use_obj_ptrs_in_encoder": (False, True),
    "model.only_obj_ptrs_in_the_past_for_eval": (False, True),
    "model.pred_obj_scores": (False, True),
    "model.pred_obj_scores_mlp": (False, True),
    "model.fixed_no_obj_ptr": (False, True),
    "model.soft_no_obj_ptr": (False, False),
    "model.use_mlp_for_obj_ptr_proj": (False, True),
    "model.backbone_stride": (16, 16),
    TRUNK + "q_pool": (3, 3),
    TRUNK + "q_stride": ([2, 2], [2, 2]),
    TRUNK + "dim_mul": (2.0, 2.0),
    TRUNK + "head_mul": (2.0, 2.0),
    TRUNK + "weights_path": (None, None),
    TRUNK + "return_interm_layers": (True, True),
    "model.image_encoder.scalp": (0, 1),
    "model.image_encoder.neck.fpn_top_down_levels": (None, [2, 3]),
    "model.image_encoder.neck.fpn_interp_model": ("bilinear", "nearest"),
    "model.memory_attention.pos_enc_at_input": (True, True),
    "model.memory_attention.layer.activation": (None, "relu"),
    "model.memory_attention.layer.pos_enc_at_attn": (False, False),
    "model.memory_attention.layer.pos_enc_at_cross_attn_keys": (True, True),
    "model.memory_attention.layer.pos_enc_at_cross_attn_queries": (False, False),
    "model.memory_attention.layer.self_attention.downsample_rate": (1, 1),
    "model.memory_attention.layer.self_attention.rope_theta": (10000.0, 10000.0),
    "model.memory_attention.layer.self_attention.rope_k_repeat": (False, False),
    "model.memory_attention.layer.cross_attention.downsample_rate": (1, 1),
    "model.memory_attention.layer.cross_attention.rope_theta": (10000.0, 10000.0),
    "model.memory_attention.layer.cross_attention.rope_k_repeat": (False, True),
    "model.memory_encoder.mask_downsampler.kernel_size": (4, 3),
    "model.memory_encoder.mask_downsampler.stride": (4, 2),
    "model.memory_encoder.mask_downsampler.padding": (0, 1),
    "model.memory_encoder.fuser.layer.kernel_size": (7, 7),
    "model.memory_encoder.fuser.layer.padding": (3, 3),
    "model.memory_encoder.fuser.layer.use_dwconv": (True, True),
}
for _encoding in ("model.image_encoder.neck.position_encoding.", "model.memory_encoder.position_encoding."):
    BEHAVIOUR.update({_encoding + "normalize": (True, True), _encoding + "scale": (None, None),
                      _encoding + "temperature": (10000, 10000)})

# Settings that must repeat what the model's widths imply: YAML path -> the implied value.
IMPLIED: Dict[str, Callable[[ModelConfig], Any]] = {
    "model.image_encoder.neck.backbone_channel_list": lambda c: list(c.trunk.channel_list),
    "model.image_encoder.neck.position_encoding.num_pos_feats": lambda c: c.hidden_dim,
    "model.memory_attention.d_model": lambda c: c.hidden_dim,
    "model.memory_attention.layer.d_model": lambda c: c.hidden_dim,
    "model.memory_attention.layer.self_attention.embedding_dim": lambda c: c.hidden_dim,
    "model.memory_attention.layer.cross_attention.embedding_dim": lambda c: c.hidden_dim,
    "model.memory_attention.layer.cross_attention.num_heads": lambda c: c.memory_attention_heads,
    "model.memory_attention.layer.cross_attention.kv_in_dim": lambda c: c.mem_dim,
    "model.memory_encoder.position_encoding.num_pos_feats": lambda c: c.mem_dim,
    "model.memory_encoder.fuser.layer.dim": lambda c: c.hidden_dim,
}

# What does not change inference (dropout, training-time sizes, compilation).
IGNORED = {
    "model.compile_image_encoder", TRUNK + "drop_path_rate", "model.memory_attention.layer.dropout",
    "model.memory_attention.layer.self_attention.dropout", "model.memory_attention.layer.cross_attention.dropout",
    "model.memory_attention.layer.self_attention.feat_sizes", "model.memory_attention.layer.cross_attention.feat_sizes",
    "model.memory_encoder.fuser.layer.layer_scale_init_value",
}

# SAM 2.1 adds temporal encodings of object pointers and a spatial no-object embedding.
VERSION_FLAGS = {"model.add_tpos_enc_to_obj_ptrs": True, "model.proj_tpos_enc_in_obj_ptrs": False,
                 "model.use_signed_tpos_enc_to_obj_ptrs": False, "model.no_obj_embed_spatial": False}
VERSIONS = {(False, False, False, False): "2.0", (True, True, True, True): "2.1"}

# Run-time options, as the matching "++model.<key>=<value>" overrides.
OPTION_PREFIXES = ("model.binarize_mask_from_pts_for_mem_enc", "model.sam_mask_decoder_extra_args.",
                   "model.multimask_max_pt_num",
                   "model.fill_hole_area", "model.non_overlap_masks", "model.add_all_frames_to_correct_as_cond",
                   *sorted(f"model.{key}" for key in TRACKER_OVERRIDES))


class ConfigFileError(ValueError):
    """An official-format config that this implementation cannot build, and why."""


@dataclass(frozen=True)
class YamlModel:
    """A config file read: the model to build and its run-time options."""

    config: ModelConfig
    options: BuildOptions


def flatten(tree: Any, prefix: str) -> Dict[str, Any]:
    """{"a": {"b": 1}} -> {"<prefix>.a.b": 1}; lists stay values."""
    if not isinstance(tree, dict):
        return {prefix: tree}
    flat = {}
    for key, value in tree.items():
        flat.update(flatten(value, f"{prefix}.{key}"))
    return flat


def _read_tree(path: str) -> Dict[str, Any]:
    import yaml

    with open(path, encoding="utf-8") as file:
        document = yaml.safe_load(file)
    if not isinstance(document, dict) or not isinstance(document.get("model"), dict):
        raise ConfigFileError(f"{path}: no 'model:' section (an official SAM 2 config has one)")
    return flatten(document["model"], "model")


def _check_targets(values: Dict[str, Any], path: str) -> None:
    for key, value in values.items():
        if not key.endswith("._target_"):
            continue
        node = key[: -len("._target_")]
        if TARGETS.get(node) != value:
            expected = f" (this implementation builds {TARGETS[node]} there)" if node in TARGETS else ""
            raise ConfigFileError(f"{path}: {key} = {value} is a class this implementation does not know{expected}")
    missing = [node for node in TARGETS if f"{node}._target_" not in values]
    if missing:
        raise ConfigFileError(f"{path}: no _target_ for {', '.join(missing)}")


def _model_config(values: Dict[str, Any], name: str, path: str) -> ModelConfig:
    shape = {name: values.get(TRUNK + name, default) for name, default in TRUNK_FIELDS.items()}
    trunk = HieraTrunk(**{name: tuple(value) if isinstance(value, list) else value for name, value in shape.items()})
    flags = tuple(bool(values.get(key, default)) for key, default in VERSION_FLAGS.items())
    if flags not in VERSIONS:
        raise ConfigFileError(f"{path}: {dict(zip(VERSION_FLAGS, flags))} is neither SAM 2.0's nor SAM 2.1's setting")
    fields = {}
    for key, (field_name, default) in FIELDS.items():
        if key not in values and default is None:
            raise ConfigFileError(f"{path}: {key} is missing")
        fields[field_name] = values.get(key, default)
    return ModelConfig(name, trunk, version=VERSIONS[flags], **fields)


def _check_settings(values: Dict[str, Any], config: ModelConfig, path: str) -> BuildOptions:
    options = []
    for key in BEHAVIOUR:
        default, built = BEHAVIOUR[key]
        given = values.get(key, default)
        if given != built:
            stated = f"= {given!r}" if key in values else f"is not given (the official default is {default!r})"
            raise ConfigFileError(f"{path}: {key} {stated}; this implementation builds {built!r}")
    handled = set(FIELDS) | set(BEHAVIOUR) | set(IGNORED) | set(VERSION_FLAGS) | {TRUNK + name for name in TRUNK_FIELDS}
    for key, value in values.items():
        if key.endswith("._target_") or key in handled:
            continue
        if key in IMPLIED:
            if value != IMPLIED[key](config):
                raise ConfigFileError(f"{path}: {key} = {value!r} does not fit the model, which needs "
                                      f"{IMPLIED[key](config)!r}")
        elif key.startswith(OPTION_PREFIXES):
            options.append(f"++{key}={value}")
        else:
            raise ConfigFileError(f"{path}: unknown key {key}")
    return parse_overrides(options)


def _dam4sam_tracker(values: Dict[str, Any], name: str) -> Optional[Dam4samSettings]:
    """DAM4SAM's settings when ``name`` is one of its config files (its RAM stride is the
    memory stride key, which it takes out of ``values``; its DRM size the conditioning-frame count)."""
    if not name.startswith(DAM4SAM_FILES):
        return None
    stride = int(values.pop("model.memory_temporal_stride_for_eval", 1))
    drm_size = int(values.get("model.max_cond_frames_in_attn", Dam4samSettings.drm_size))
    return Dam4samSettings(ram_stride=stride, drm_size=drm_size if drm_size > 0 else Dam4samSettings.drm_size)


def read_config_file(path: str) -> YamlModel:
    """The model an official-format YAML file describes (named after the file, or after the
    preset it equals), and its run-time options; ConfigFileError names what cannot be built."""
    values = _read_tree(path)
    _check_targets(values, path)
    name = os.path.splitext(os.path.basename(path))[0]
    tracker = _dam4sam_tracker(values, name)
    config = _model_config(values, name, path)
    options = _check_settings(values, config, path)
    options.tracker = tracker
    return YamlModel(_as_preset(config), options)


def _as_preset(config: ModelConfig) -> ModelConfig:
    """The preset ``config`` equals (ignoring its name), so a copy of an official file builds
    and names the model as the official file does; else ``config`` itself."""
    for preset in PRESETS.values():
        if replace(preset, name=config.name) == config:
            return preset
    return config


def is_config_file(config_file: str) -> bool:
    """Whether ``config_file`` names an existing YAML file (rather than a preset)."""
    return str(config_file).endswith((".yaml", ".yml")) and os.path.isfile(config_file)
