"""Which preset a model or checkpoint is, and the same model at another input size.

A model built by :func:`~sam2.assembly.model_builder.build_model` remembers its preset
(``model_config``); for one built elsewhere the preset is found from its parameter names and
shapes, which is unique unless presets share a layout (then ValueError names them).
"""

from typing import Any, Dict, Mapping, TypeVar, Union

import torch

from ..modeling.sam2_base import SAM2Base
from .checkpoint import layout_of, read_state
from .configs import PRESETS, ModelConfig, with_image_size
from .model_builder import build_model, presets_with_layout
from .overrides import DECODER_OVERRIDES, MODEL_OVERRIDES, PREDICTOR_OVERRIDES

Model = TypeVar("Model", bound=SAM2Base)


def checkpoint_config(checkpoint: Union[str, Mapping[str, torch.Tensor]]) -> str:
    """The preset name whose parameters a checkpoint (an official file, or a state dict) has."""
    state = read_state(checkpoint) if isinstance(checkpoint, str) else checkpoint
    matches = presets_with_layout(layout_of(state))
    if len(matches) != 1:
        raise ValueError(f"its parameters match {len(matches)} known configs ({', '.join(matches) or 'none'})")
    return matches[0]


def model_config(model: SAM2Base) -> ModelConfig:
    """The preset ``model`` was built from (at its own input size)."""
    config = getattr(model, "model_config", None)
    if config is None:
        config = with_image_size(PRESETS[checkpoint_config(model.state_dict())], model.image_size)
    return config


def _build_options(model: SAM2Base) -> Dict[str, Any]:
    """What ``model`` was built with besides its config: the values of the official overrides."""
    options = {key: getattr(model, key) for key in MODEL_OVERRIDES | PREDICTOR_OVERRIDES if hasattr(model, key)}
    options.update({key: getattr(model.sam_mask_decoder, key) for key in DECODER_OVERRIDES})
    return options


def at_image_size(model: Model, image_size: int) -> Model:
    """``model`` run at another input size: a model of the same class, config and options that
    holds ``model``'s parameter and buffer tensors (the same objects: nothing read or copied).
    ValueError when the model cannot run at that size."""
    config = with_image_size(model_config(model), image_size)
    with torch.device("meta"):  # no memory for the parameters replaced just below
        resized = build_model(config, type(model), **_build_options(model))
    resized.load_state_dict(model.state_dict(keep_vars=True), assign=True)
    resized.train(model.training)
    resized.model_config = config
    return resized
