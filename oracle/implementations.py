"""The implementations a scenario runs on, each through its own official API, with the
harness-only fixes each official code needs to run on a CPU in fp32.

Imported only in subprocesses (PYTHONPATH decides which package ``sam2`` is):

* ``ours``: this checkout's ``sam2``, untouched (hole filling is off on every side);
* ``reference``: Meta's ``sam2==1.1.0``;
* ``edgetam``: EdgeTAM's official ``sam2`` (a legacy SAM 2 video predictor);
* ``efficienttam``: EfficientTAM's ``efficient_track_anything``.

The fixes (DESIGN.md section 6), never applied to ours:

* memory attention gets its ``memory``/``memory_pos`` inputs cast to float32: the official
  predictors keep memory features in bfloat16 and crash re-propagating in fp32;
* the image predictor's hard-coded backbone feature sizes follow ``--image-size``;
* EdgeTAM: its timm backbone is built with ``pretrained=False`` (it would download weights);
* EfficientTAM: its video predictor builder replaces ``hydra_overrides_extra`` with its own
  list on a machine without CUDA, so the config composer it imported is wrapped to add the
  run's overrides back; ``compile_image_encoder`` is turned off (its configs turn it on);
* SAM2Long: its memory attention splits the memory into frames of a fixed 4096 tokens (a
  1024-pixel input); ``frame_tokens_follow_image_size`` makes that the run's count.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

IMPLEMENTATIONS = ("ours", "reference", "edgetam", "efficienttam")
NO_COMPILE = "++model.compile_image_encoder=false"


@dataclass(frozen=True)
class Implementation:
    """One package's public entry points, as its own documentation spells them."""

    name: str
    package_dir: Path
    build_model: Callable
    build_video_predictor: Callable
    image_predictor: type
    # The legacy SAM 2 video predictor (EdgeTAM's) tracks all objects of a session as one
    # batch, which EdgeTAM's perceiver cannot do (a `.view` of an expanded tensor), and
    # refuses objects added after tracking starts: its runs are one object per session, and
    # it keeps corrected outputs through later propagations (see scenarios.plan_for_object).
    legacy_predictor: bool = False
    fix_official: bool = True

    def prepare_video_predictor(self, predictor) -> None:
        # Hole filling off on every side: the official codes fill holes with a CUDA extension
        # (edgetam-dimos falls back to OpenCV), which a CPU run of sam2==1.1.0 skips.
        predictor.fill_hole_area = 0
        if self.fix_official:
            cast_memory_to_fp32(predictor)

    def prepare_image_predictor(self, predictor, image_size: int | None) -> None:
        if self.fix_official and image_size:
            rescale_image_predictor_feats(predictor, image_size)


def cast_memory_to_fp32(model) -> None:
    attention = model.memory_attention
    original = attention.forward

    def forward(*args, **kwargs):
        args = list(args)
        for position, name in ((1, "memory"), (3, "memory_pos")):
            if name in kwargs and kwargs[name] is not None:
                kwargs[name] = kwargs[name].float()
            elif len(args) > position and args[position] is not None:
                args[position] = args[position].float()
        return original(*args, **kwargs)

    attention.forward = forward


def frame_tokens_follow_image_size(image_size: int, stride: int = 16) -> None:
    """Re-execute SAM2Long's memory attention module with its tokens per memory frame (a
    literal 4096) set to ``(image_size / stride) ** 2``, before its model is built."""
    module = importlib.import_module("sam2.modeling.memory_attention")
    source = Path(module.__file__).read_text()
    if source.count("4096") != 2:
        raise RuntimeError("SAM2Long's memory attention changed: expected two 4096 literals")
    tokens = (image_size // stride) ** 2
    exec(compile(source.replace("4096", str(tokens)), module.__file__, "exec"), module.__dict__)


def rescale_image_predictor_feats(predictor, image_size: int) -> None:
    if hasattr(predictor, "_bb_feat_sizes"):
        predictor._bb_feat_sizes = [(image_size // s, image_size // s) for s in (4, 8, 16)]


def build_timm_backbones_offline() -> None:
    """Make EdgeTAM's timm backbone module create its trunk with ``pretrained=False``."""
    module = importlib.import_module("sam2.modeling.backbones.timm")
    create = module.create_model

    def create_model(*args, **kwargs):
        return create(*args, **{**kwargs, "pretrained": False})

    module.create_model = create_model


def keep_overrides(builder_module, overrides: list) -> None:
    """Make every config the builder module composes include ``overrides`` (plus no compiling)."""
    compose = builder_module.compose
    wanted = [*overrides, NO_COMPILE]

    def compose_with_overrides(config_name, overrides=()):
        given = list(overrides)
        keys = {o.split("=", 1)[0].lower() for o in given}
        missing = [o for o in wanted if o.split("=", 1)[0].lower() not in keys]
        return compose(config_name=config_name, overrides=given + missing)

    builder_module.compose = compose_with_overrides


def load(name: str, overrides: list) -> Implementation:
    """Import implementation ``name`` (applying its fixes); ``overrides`` are the run's Hydra
    overrides, which the builders also receive as ``hydra_overrides_extra``."""
    if name == "efficienttam":
        import efficient_track_anything
        from efficient_track_anything import build_efficienttam as builders
        from efficient_track_anything.efficienttam_image_predictor import EfficientTAMImagePredictor

        keep_overrides(builders, overrides)
        return Implementation(
            name, Path(efficient_track_anything.__file__).resolve().parent, builders.build_efficienttam,
            builders.build_efficienttam_video_predictor, EfficientTAMImagePredictor,
        )
    if name not in IMPLEMENTATIONS:
        raise ValueError(f"unknown implementation {name!r}; known: {', '.join(IMPLEMENTATIONS)}")
    import sam2

    if name == "edgetam":
        build_timm_backbones_offline()
    from sam2.build_sam import build_sam2, build_sam2_video_predictor
    from sam2.sam2_image_predictor import SAM2ImagePredictor

    return Implementation(
        name, Path(sam2.__file__).resolve().parent, build_sam2, build_sam2_video_predictor,
        SAM2ImagePredictor, legacy_predictor=name == "edgetam", fix_official=name != "ours",
    )
