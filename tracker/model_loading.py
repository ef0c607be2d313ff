"""Finds and loads the weights (a local file, then checkpoints/, then the Hugging Face Hub) and
runs them at other input sizes without loading them again."""

import functools
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, FrozenSet, List, Optional, Tuple, Union

import torch

from sam2.assembly.configs import PRESETS, ModelConfig, checked_image_size, with_image_size
from sam2.assembly.model_builder import build_model
from sam2.assembly.overrides import DECODER_OVERRIDES, MODEL_OVERRIDES, PREDICTOR_OVERRIDES
from sam2.build_sam import HF_MODEL_ID_TO_FILENAMES, build_sam2_video_predictor
from sam2.sam2_video_predictor import SAM2VideoPredictor

from .engine import Engine, default_image_size
from .settings import AppSettings

# Models kept loaded (with all their sizes), so two can be compared; the least recently used goes first.
MODELS_KEPT = 2


@dataclass(frozen=True)
class ModelUnavailable:
    """Why no model could be loaded, and what the user can do about it."""

    message: str


def _download(model_id: str, filename: str) -> str:
    from huggingface_hub import hf_hub_download

    return hf_hub_download(repo_id=model_id, filename=filename)


def _cached(model_id: str, filename: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(model_id, filename), str)


def model_choices(settings: AppSettings) -> List[str]:
    """Models that can be loaded without a download (plus the configured one)."""
    choices = [settings.model_id]
    for model_id, (_, filename) in HF_MODEL_ID_TO_FILENAMES.items():
        if model_id != settings.model_id and ((settings.checkpoints_dir / filename).is_file() or _cached(model_id, filename)):
            choices.append(model_id)
    return choices


def load_engine(settings: AppSettings, model_id: Optional[str] = None) -> Union[Engine, ModelUnavailable]:
    """The configured model (or ``model_id``) at its checkpoint's input size, or why it cannot be had."""
    if settings.checkpoint and model_id in (None, settings.model_id):
        name = f"{Path(settings.checkpoint).name} ({settings.config})"
        return _build(settings.config, settings.checkpoint, settings, name)
    model_id = model_id or settings.model_id
    if model_id not in HF_MODEL_ID_TO_FILENAMES:
        return ModelUnavailable(f"Unknown model {model_id!r}. Known models: {', '.join(HF_MODEL_ID_TO_FILENAMES)}.")
    config, filename = HF_MODEL_ID_TO_FILENAMES[model_id]
    local = settings.checkpoints_dir / filename
    if local.is_file():
        return _build(config, str(local), settings, model_id)
    try:
        path = _download(model_id, filename)
    except Exception as error:  # no network, hub down, gated repo...
        return ModelUnavailable(
            f"The weights of {model_id} could not be downloaded ({type(error).__name__}: {error}). "
            f"Put {filename} into {settings.checkpoints_dir}/ (see checkpoints/README.md), or start the app with "
            f"SAM2_CHECKPOINT=/path/to/file.pt SAM2_CONFIG={Path(config).stem}."
        )
    return _build(config, path, settings, model_id)


def _build(config: str, checkpoint: str, settings: AppSettings, name: str) -> Union[Engine, ModelUnavailable]:
    """The predictor for ``checkpoint`` on the settings' device."""
    try:
        predictor = build_sam2_video_predictor(config, checkpoint, device=settings.device)
    except Exception as error:  # wrong file, wrong config, bad device
        return ModelUnavailable(f"Could not load {name} from {checkpoint}: {error}")
    return Engine.wrap(predictor, name)


@functools.lru_cache(maxsize=None)
def _layout(preset: str) -> FrozenSet[Tuple[str, Tuple[int, ...]]]:
    """Names and shapes of a preset's parameters and buffers (built on the meta device: no memory)."""
    with torch.device("meta"):
        model = build_model(PRESETS[preset])
    return frozenset((key, tuple(tensor.shape)) for key, tensor in model.state_dict().items())


def model_config(model: SAM2VideoPredictor) -> ModelConfig:
    """The preset ``model`` was built from, known by its parameter names and shapes (which do not
    depend on the input size); ValueError if no preset or several have them."""
    layout = frozenset((key, tuple(tensor.shape)) for key, tensor in model.state_dict().items())
    matches = [name for name in PRESETS if _layout(name) == layout]
    if len(matches) != 1:
        raise ValueError(f"its parameters match {len(matches)} known configs ({', '.join(matches) or 'none'})")
    return PRESETS[matches[0]]


def _build_options(model: SAM2VideoPredictor) -> Dict[str, Any]:
    """What ``model`` was built with besides its config: the values of build_sam's override keys."""
    options = {key: getattr(model, key) for key in MODEL_OVERRIDES | PREDICTOR_OVERRIDES}
    options.update({key: getattr(model.sam_mask_decoder, key) for key in DECODER_OVERRIDES})
    return options


def resized_engine(base: Engine, config: ModelConfig, image_size: int) -> Engine:
    """``base`` (built from ``config``) at another input size, e.g. "facebook/sam2.1-hiera-tiny at
    512 px": the same modules and options, holding ``base``'s parameter and buffer tensors (the
    same objects: nothing is read or copied); the same precision and memory policy."""
    model = base.predictor
    with torch.device("meta"):  # no memory for the parameters replaced just below
        resized = build_model(with_image_size(config, image_size), type(model), **_build_options(model))
    resized.load_state_dict(model.state_dict(keep_vars=True), assign=True)
    resized.train(model.training)
    return Engine(resized, f"{base.name} at {image_size} px", base.dtype, base.native_image_size, base.memory_policy)


class _LoadedModel:
    """One model's engines by input size, all sharing the parameters of ``base`` (the checkpoint's size)."""

    def __init__(self, base: Engine) -> None:
        self.base = base
        self.engines: Dict[int, Engine] = {base.image_size: base}
        self._config: Optional[ModelConfig] = None

    def at_size(self, image_size: int) -> Union[Engine, ModelUnavailable]:
        if image_size not in self.engines:
            try:
                self._config = self._config or model_config(self.base.predictor)
                self.engines[image_size] = resized_engine(self.base, self._config, image_size)
            except (ValueError, RuntimeError) as error:  # unknown config; parameters that do not fit it
                return ModelUnavailable(f"Could not run {self.base.name} at {image_size} px: {error}")
        return self.engines[image_size]


class EngineCache:
    """The models shared by all sessions, at the input sizes asked for. The :data:`MODELS_KEPT`
    most recently used models stay loaded with all their sizes; a model's weights are read once,
    its other sizes share its parameters. Thread-safe: concurrent requests load a model (or
    build a size) once."""

    def __init__(self, settings: AppSettings, loaded: Optional[Engine] = None) -> None:
        """``loaded``: the configured model, already built (tests, benchmarks)."""
        self.settings = settings
        self._models: "OrderedDict[str, _LoadedModel]" = OrderedDict()
        if loaded is not None:
            self._models[settings.model_id] = _LoadedModel(loaded)
        self._lock = threading.Lock()

    @property
    def default_model_id(self) -> str:
        return self.settings.model_id

    def get(self, model_id: Optional[str] = None, image_size: Optional[int] = None) -> Union[Engine, ModelUnavailable]:
        """``model_id`` (default: the configured model) at ``image_size`` (default:
        :func:`default_image_size`), or why not: the model cannot be loaded, or the size is not
        a positive multiple of 32."""
        if image_size is not None:
            try:
                checked_image_size(image_size)
            except ValueError as error:
                return ModelUnavailable(f"Cannot run a model at {image_size} px: {error}.")
        with self._lock:
            model = self._model(model_id or self.settings.model_id)
            if isinstance(model, ModelUnavailable):
                return model
            return model.at_size(default_image_size(model.base, self.settings) if image_size is None else image_size)

    def _model(self, model_id: str) -> Union[_LoadedModel, ModelUnavailable]:
        """``model_id``, now the most recently used; loaded if new (dropping the least recently
        used beyond :data:`MODELS_KEPT`)."""
        if model_id not in self._models:
            base = load_engine(self.settings, model_id)
            if isinstance(base, ModelUnavailable):
                return base
            self._models[model_id] = _LoadedModel(base)
            while len(self._models) > MODELS_KEPT:
                self._models.popitem(last=False)
        self._models.move_to_end(model_id)
        return self._models[model_id]
