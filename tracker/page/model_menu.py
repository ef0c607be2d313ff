"""What the page offers: the models (by label), the input sizes of each on CPUs, and what
Compare can run."""

from dataclasses import dataclass, field, replace
from typing import Dict, List, Optional, Tuple

import torch

from sam2.tracking import TRACKER_NAMES, tracker_settings

from ..errors import UserError
from ..model.calls import ModelChoice
from ..model.catalogue import HUB_MODELS, CatalogueModel, configured_model, hub_model_of_file
from ..model.engine import offered_sizes
from ..model.gpu import zero_gpu_active
from ..model.loading import EngineCache
from ..model.weights import ModelUnavailable, downloads_allowed, local_weights
from ..settings import AppSettings


def tracker_title(name: str) -> str:
    """How the page names a tracker, e.g. "SAMURAI"."""
    return tracker_settings(name).title


def menu_models(settings: AppSettings) -> List[CatalogueModel]:
    """The configured model, then in catalogue order every Hub model whose weights are here
    (checkpoints folder or Hub cache) and, where downloads are allowed, those always offered:
    a pick downloads them. On ZeroGPU only the configured model (it is on the GPU before the
    first worker is forked)."""
    configured = configured_model(settings)
    models = [configured] if configured is not None else []
    if zero_gpu_active():
        return models
    online = downloads_allowed()
    # A Hub model whose file the app was started with is that model already: listed once, by its label.
    same_file = hub_model_of_file(configured.local_file, configured.config) \
        if configured is not None and configured.local_file is not None else None
    for model in HUB_MODELS:
        if model.model_id != settings.model_id and model != same_file and (
                (online and model.always_offered) or local_weights(model, settings) is not None):
            models.append(model)
    return models


@dataclass
class ModelMenu:
    """The models offered; whether input sizes are a choice (on CPUs, not on GPUs or ZeroGPU)
    and the configured model's sizes and default size (0 and none: it could not be loaded);
    the Compare choices by label and the one shown first."""

    models: List[CatalogueModel]
    sizes_offered: bool
    default_size: int = 0
    sizes: List[int] = field(default_factory=list)
    compare: Dict[str, ModelChoice] = field(default_factory=dict)
    default_compare: Optional[str] = None
    # Compare choices that keep the session's model and input size: label -> tracker name.
    compare_trackers: Dict[str, str] = field(default_factory=lambda: {
        f"{tracker_title(name)} tracker (same model)": name for name in TRACKER_NAMES})

    @property
    def trackers(self) -> List[Tuple[str, str]]:
        """(title, name) pairs, as the tracker dropdown lists them."""
        return [(tracker_title(name), name) for name in TRACKER_NAMES]

    @property
    def compare_labels(self) -> List[str]:
        return [*self.compare, *self.compare_trackers]

    def compare_choice(self, label: str, session_model: ModelChoice) -> ModelChoice:
        """What a Compare choice runs, for a session on ``session_model``."""
        if label in self.compare_trackers:
            return replace(session_model, tracker=self.compare_trackers[label])
        if label in self.compare:
            return replace(self.compare[label], tracker=session_model.tracker)
        raise UserError("Choose a model or tracker to compare with.")

    @staticmethod
    def tracker(name) -> str:
        """The tracker ``name`` (default: SAM 2's own); UserError naming the offered ones otherwise."""
        name = name or TRACKER_NAMES[0]
        if name not in TRACKER_NAMES:
            raise UserError(f"Unknown tracker {name!r}: choose one of {', '.join(TRACKER_NAMES)}.")
        return name

    @property
    def choices(self) -> List[Tuple[str, str]]:
        """(label, model id) pairs, as the model dropdown lists them."""
        return [(model.label, model.model_id) for model in self.models]

    def model(self, model_id: str) -> CatalogueModel:
        """The offered model of this id; UserError naming the offered ones otherwise."""
        for model in self.models:
            if model.model_id == model_id:
                return model
        raise UserError(f"Unknown model {model_id!r}: choose one of {', '.join(m.model_id for m in self.models)}.")


def _compare_choices(models: List[CatalogueModel], settings: AppSettings, sizes: List[int],
                     default_size: int) -> Dict[str, ModelChoice]:
    """Every offered model (at its default size), then the configured one at its other sizes."""
    choices = {model.label: ModelChoice(model.model_id) for model in models}
    configured = configured_model(settings)
    for size in sizes:
        if size != default_size:
            choices[f"{configured.label} at {size} px"] = ModelChoice(settings.model_id, size)
    return choices


def _default_compare(compare: Dict[str, ModelChoice], models: List[CatalogueModel],
                     settings: AppSettings) -> Optional[str]:
    """The first choice other than the configured model at its default size, preferring those
    whose weights are here (no download)."""
    here = {model.model_id for model in models if local_weights(model, settings) is not None}
    others = [label for label, choice in compare.items() if choice != ModelChoice(settings.model_id)]
    return next((label for label in others if compare[label].model_id in here), others[0] if others else None)


def model_menu(settings: AppSettings, engines: EngineCache) -> ModelMenu:
    """The menu for ``settings``; loads the configured model (for its sizes)."""
    models = menu_models(settings)
    sizes_offered = torch.device(settings.device).type == "cpu" and not zero_gpu_active()
    loaded = engines.get()
    default_size, sizes = 0, []
    if not isinstance(loaded, ModelUnavailable):
        default_size = loaded.image_size
        sizes = offered_sizes(loaded, settings) if sizes_offered else []
    compare = _compare_choices(models, settings, sizes, default_size)
    return ModelMenu(models, sizes_offered, default_size, sizes, compare, _default_compare(compare, models, settings))
