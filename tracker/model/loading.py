"""Loads a model of the catalogue (its weights found by tracker.model.weights) and runs it at other
input sizes without loading it again."""

import logging
import threading
import time
from collections import OrderedDict
from typing import Dict, Optional, Tuple, Union

from sam2.build_sam import at_image_size, build_sam2_video_predictor, checkpoint_config
from sam2.models import CheckpointMismatchError, ModelConfig, checked_image_size, get_config

from ..settings import AppSettings
from .catalogue import HUB_MODELS, find_model
from .engine import APP_OVERRIDES, Engine, default_image_size, size_step
from .weights import ModelUnavailable, find_weights

logger = logging.getLogger(__name__)

# Models kept loaded (with all their sizes), so two can be compared; the least recently used goes first.
MODELS_KEPT = 2
# A model that could not be loaded (weights not here and no network, weights that do not fit)
# is not tried again for this long: opening a video does not wait for the same failure again.
FAILURE_KEPT_SECONDS = 300.0


def load_engine(settings: AppSettings, model_id: Optional[str] = None) -> Union[Engine, ModelUnavailable]:
    """The configured model (or ``model_id``) at its checkpoint's input size, or why it cannot be had."""
    model_id = model_id or settings.model_id
    model = find_model(settings, model_id)
    if model is None:
        return ModelUnavailable(f"Unknown model {model_id!r}. Known models: "
                                f"{', '.join(m.model_id for m in HUB_MODELS)}.")
    weights = find_weights(model, settings)
    if isinstance(weights, ModelUnavailable):
        return weights
    return _build(model.config, weights, settings, model.label)


def _build(config: str, checkpoint: str, settings: AppSettings, name: str) -> Union[Engine, ModelUnavailable]:
    """The predictor of ``config`` from ``checkpoint`` on the settings' device, called ``name``."""
    try:
        predictor = build_sam2_video_predictor(config, checkpoint, device=settings.device,
                                               hydra_overrides_extra=APP_OVERRIDES)
    except CheckpointMismatchError as error:  # its first line names file, config and the configs that fit
        logger.error("%s", error)
        return ModelUnavailable(f"Could not load {name}: {str(error).splitlines()[0]} "
                                "(the keys that differ are in the server's log).")
    except Exception as error:  # wrong file, unknown config, bad device
        return ModelUnavailable(f"Could not load {name} from {checkpoint}: {error}")
    return Engine.wrap(predictor, name, predictor.model_config)  # also a config read from a YAML file


def engine_config(engine: Engine) -> ModelConfig:
    """The preset ``engine`` was built from; for an engine built elsewhere without one, the
    preset its parameter names and shapes fit (ValueError unless exactly one does)."""
    if engine.config is not None:
        return engine.config
    return get_config(checkpoint_config(engine.predictor.state_dict()))


def resized_engine(base: Engine, config: ModelConfig, image_size: int) -> Engine:
    """``base`` (built from ``config``) at another input size, e.g. "SAM 2.1 tiny at 512 px":
    the library's ``at_image_size`` (the same modules and options, holding ``base``'s parameter
    and buffer tensors: nothing is read or copied); the same precision, memory policy and config."""
    return Engine(at_image_size(base.predictor, image_size), f"{base.name} at {image_size} px", base.dtype,
                  base.native_image_size, base.memory_policy, config)


class _LoadedModel:
    """One model's engines by input size, all sharing the parameters of ``base`` (the checkpoint's size)."""

    def __init__(self, base: Engine) -> None:
        self.base = base
        self.engines: Dict[int, Engine] = {base.image_size: base}
        self._config: Optional[ModelConfig] = None

    def at_size(self, image_size: int) -> Union[Engine, ModelUnavailable]:
        if image_size not in self.engines:
            try:
                self._config = self._config or engine_config(self.base)
                step = size_step(self._config)
                if image_size % step:
                    raise ValueError(f"it runs at input sizes that are multiples of {step} px")
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
        # Models that could not be loaded, and when: asked again, the answer is the same for a while.
        self._failures: Dict[str, Tuple[ModelUnavailable, float]] = {}
        if loaded is not None:
            self._models[settings.model_id] = _LoadedModel(loaded)
        self._lock = threading.Lock()

    @property
    def default_model_id(self) -> str:
        return self.settings.model_id

    def get(self, model_id: Optional[str] = None, image_size: Optional[int] = None) -> Union[Engine, ModelUnavailable]:
        """``model_id`` (default: the configured model) at ``image_size`` (default:
        :func:`default_image_size`), or why not: the model cannot be loaded, or it cannot run at
        that size (not a positive multiple of 32, or for EdgeTAM of 256)."""
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
            failure = self._failures.get(model_id)
            if failure is not None and time.monotonic() - failure[1] < FAILURE_KEPT_SECONDS:
                return failure[0]
            base = load_engine(self.settings, model_id)
            if isinstance(base, ModelUnavailable):
                self._failures[model_id] = (base, time.monotonic())
                return base
            self._failures.pop(model_id, None)
            self._models[model_id] = _LoadedModel(base)
            while len(self._models) > MODELS_KEPT:
                self._models.popitem(last=False)
        self._models.move_to_end(model_id)
        return self._models[model_id]
