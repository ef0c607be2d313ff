"""Finds and loads the weights: a local file, then checkpoints/, then the Hugging Face Hub."""

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Union

from sam2.build_sam import HF_MODEL_ID_TO_FILENAMES, build_sam2_video_predictor

from .engine import Engine
from .settings import AppSettings


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
    """The configured model (or ``model_id``) as an Engine, or why it cannot be had."""
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
    """The predictor for ``checkpoint`` on the settings' device, at their image size if one is set
    (then named with it, e.g. "facebook/sam2.1-hiera-tiny at 512 px")."""
    overrides = [] if settings.image_size is None else [f"++model.image_size={settings.image_size}"]
    try:
        predictor = build_sam2_video_predictor(config, checkpoint, device=settings.device, hydra_overrides_extra=overrides)
    except Exception as error:  # wrong file, wrong config, bad device
        return ModelUnavailable(f"Could not load {name} from {checkpoint}: {error}")
    if settings.image_size is not None:
        name = f"{name} at {settings.image_size} px"
    return Engine.wrap(predictor, name)


class EngineCache:
    """The loaded model shared by all sessions; choosing another model replaces it.
    Thread-safe: concurrent requests load a model once."""

    def __init__(self, settings: AppSettings, loaded: Optional[Engine] = None) -> None:
        """``loaded``: the configured model, already built (tests, benchmarks)."""
        self.settings = settings
        self._loaded: Dict[str, Engine] = {} if loaded is None else {settings.model_id: loaded}
        self._lock = threading.Lock()

    @property
    def default_model_id(self) -> str:
        return self.settings.model_id

    def get(self, model_id: Optional[str] = None) -> Union[Engine, ModelUnavailable]:
        key = model_id or self.settings.model_id
        with self._lock:
            if key not in self._loaded:
                engine = load_engine(self.settings, model_id)
                if isinstance(engine, ModelUnavailable):
                    return engine
                self._loaded = {key: engine}
            return self._loaded[key]
