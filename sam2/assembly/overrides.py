"""Hydra-style overrides ("++model.<key>=<value>") of the official builders, as typed options."""

from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, Optional


@dataclass
class BuildOptions:
    """Run-time options of a built model (what the official Hydra overrides can set)."""

    image_size: Optional[int] = None
    model_kwargs: Dict[str, Any] = field(default_factory=dict)
    predictor_kwargs: Dict[str, Any] = field(default_factory=dict)


# Override keys ("++model.<key>=<value>") and where they go.
MODEL_OVERRIDES = {"binarize_mask_from_pts_for_mem_enc", "max_cond_frames_in_attn", "num_maskmem"}
DECODER_OVERRIDES = {
    "dynamic_multimask_via_stability", "dynamic_multimask_stability_delta", "dynamic_multimask_stability_thresh",
}
PREDICTOR_OVERRIDES = {"fill_hole_area", "non_overlap_masks", "add_all_frames_to_correct_as_cond"}
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
        elif key not in _IGNORED_OVERRIDES:
            supported = sorted(MODEL_OVERRIDES | DECODER_OVERRIDES | PREDICTOR_OVERRIDES | {"image_size"})
            raise ValueError(f"unsupported override key {key!r}; supported: {', '.join(supported)}")
    return options
