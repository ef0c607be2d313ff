"""Hydra-style overrides ("++model.<key>=<value>") of the official builders, as typed options."""

from dataclasses import dataclass, field, fields
from typing import Any, Dict, Iterable, Optional

from ..tracking import Sam2Settings, SamuraiSettings, TrackerSettings
from ..tracking.samurai import SAMURAI_CODE_DEFAULTS


@dataclass
class BuildOptions:
    """Run-time options of a built model (what the official Hydra overrides can set)."""

    image_size: Optional[int] = None
    model_kwargs: Dict[str, Any] = field(default_factory=dict)
    predictor_kwargs: Dict[str, Any] = field(default_factory=dict)
    # SAMURAI's keys (samurai_mode and its settings), turned into the predictor's tracker.
    tracker_keys: Dict[str, Any] = field(default_factory=dict)
    # The tracker a config file stands for as a whole (DAM4SAM's sam21pp files).
    tracker: Optional[TrackerSettings] = None


# Override keys ("++model.<key>=<value>") and where they go.
MODEL_OVERRIDES = {"binarize_mask_from_pts_for_mem_enc", "max_cond_frames_in_attn", "num_maskmem", "multimask_max_pt_num"}
DECODER_OVERRIDES = {
    "dynamic_multimask_via_stability", "dynamic_multimask_stability_delta", "dynamic_multimask_stability_thresh",
}
PREDICTOR_OVERRIDES = {"fill_hole_area", "non_overlap_masks", "add_all_frames_to_correct_as_cond"}
SAMURAI_MODE = "samurai_mode"
TRACKER_OVERRIDES = {SAMURAI_MODE, *(f.name for f in fields(SamuraiSettings))}
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


def parse_overrides(overrides: Iterable[str]) -> BuildOptions:
    """Build options from Hydra-style overrides such as "++model.image_size=512"."""
    options = BuildOptions()
    for override in overrides:
        key, sep, raw = override.lstrip("+").partition("=")
        if not sep or not key.startswith("model."):
            raise ValueError(f"unsupported override {override!r}: expected '++model.<key>=<value>'")
        key, value = key[len("model."):], _parse_value(raw)
        if key.startswith("sam_mask_decoder_extra_args."):
            key = key.split(".", 1)[1]
        if key == "image_size":
            options.image_size = int(value)
        elif key in MODEL_OVERRIDES or key in DECODER_OVERRIDES:
            options.model_kwargs[key] = value
        elif key in PREDICTOR_OVERRIDES:
            options.predictor_kwargs[key] = value
        elif key in TRACKER_OVERRIDES:
            options.tracker_keys[key] = value
        elif key not in _IGNORED_OVERRIDES:
            supported = sorted(MODEL_OVERRIDES | DECODER_OVERRIDES | PREDICTOR_OVERRIDES | TRACKER_OVERRIDES | {"image_size"})
            raise ValueError(f"unsupported override key {key!r}; supported: {', '.join(supported)}")
    return options


def tracker_from_keys(keys: Dict[str, Any]) -> Optional[TrackerSettings]:
    """The tracker SAMURAI's keys ask for: SAMURAI with the given settings (the others at
    its code's defaults) when samurai_mode is true, SAM 2's own when it is false; None without
    keys. Settings without samurai_mode are an error (SAMURAI's code ignores them then, which
    is never what a config means)."""
    if not keys:
        return None
    settings = {key: value for key, value in keys.items() if key != SAMURAI_MODE}
    if SAMURAI_MODE not in keys:
        raise ValueError(f"{', '.join(sorted(settings))} are SAMURAI's settings: set samurai_mode=true to use them")
    if not keys[SAMURAI_MODE]:
        return Sam2Settings()
    types = {f.name: f.type for f in fields(SamuraiSettings)}
    given = {key: int(value) if types[key] is int else float(value) for key, value in settings.items()}
    return SamuraiSettings(**{**SAMURAI_CODE_DEFAULTS, **given})
