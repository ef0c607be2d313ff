"""The models the page can offer, by id and label: every model of the Hub table (SAM 2 and 2.1,
EdgeTAM, EfficientTAM) and a local checkpoint given at start-up."""

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple

from sam2.models import HubCheckpoint, config_name, hub_checkpoint

from ..settings import AppSettings, local_model_id


@dataclass(frozen=True)
class CatalogueModel:
    """A model: its id (a Hub id, or for a local file its name and config), the label the page
    shows, its config name, and its weights: ``hub`` (looked for as ``hub.local_name`` in the
    checkpoints folder, then in the Hub cache, then downloaded) or ``local_file``.
    ``always_offered``: in the menu even before its weights are here (a pick downloads them)."""

    model_id: str
    label: str
    config: str
    hub: Optional[HubCheckpoint] = None
    local_file: Optional[Path] = None
    always_offered: bool = False

    @property
    def filename(self) -> str:
        """The checkpoint's file name, as the checkpoints folder holds it."""
        return self.local_file.name if self.local_file is not None else self.hub.local_name


def _hub(model_id: str, label: str, always_offered: bool = True) -> CatalogueModel:
    checkpoint = hub_checkpoint(model_id)
    return CatalogueModel(model_id, label, config_name(checkpoint.config), checkpoint, always_offered=always_offered)


# Menu order: EdgeTAM, then SAM 2.1 (the reference to compare with), EfficientTAM, SAM 2. The
# pooled-memory EfficientTAM variants (/1, /2) are offered once their weights are here (or
# when configured): variants of EfficientTAM's memory attention, not a first choice.
HUB_MODELS: Tuple[CatalogueModel, ...] = (
    _hub("facebook/EdgeTAM", "EdgeTAM (fast on CPUs)"),
    _hub("facebook/sam2.1-hiera-tiny", "SAM 2.1 tiny"),
    _hub("facebook/sam2.1-hiera-small", "SAM 2.1 small"),
    _hub("facebook/sam2.1-hiera-base-plus", "SAM 2.1 base+"),
    _hub("facebook/sam2.1-hiera-large", "SAM 2.1 large"),
    _hub("facebook/efficienttam_ti_512x512", "EfficientTAM-Ti 512"),
    _hub("facebook/efficienttam_s_512x512", "EfficientTAM-S 512"),
    _hub("facebook/efficienttam_ti", "EfficientTAM-Ti"),
    _hub("facebook/efficienttam_s", "EfficientTAM-S"),
    _hub("facebook/efficienttam_ti_1", "EfficientTAM-Ti/1 (pooled memory)", always_offered=False),
    _hub("facebook/efficienttam_ti_2", "EfficientTAM-Ti/2 (pooled memory)", always_offered=False),
    _hub("facebook/efficienttam_s_1", "EfficientTAM-S/1 (pooled memory)", always_offered=False),
    _hub("facebook/efficienttam_s_2", "EfficientTAM-S/2 (pooled memory)", always_offered=False),
    _hub("facebook/sam2-hiera-tiny", "SAM 2 tiny"),
    _hub("facebook/sam2-hiera-small", "SAM 2 small"),
    _hub("facebook/sam2-hiera-base-plus", "SAM 2 base+"),
    _hub("facebook/sam2-hiera-large", "SAM 2 large"),
)


def hub_model(model_id: str) -> Optional[CatalogueModel]:
    return next((model for model in HUB_MODELS if model.model_id == model_id), None)


def hub_model_of_file(checkpoint: Path, config: str) -> Optional[CatalogueModel]:
    """The Hub model a local file is a copy of (same file name and config), if any."""
    try:
        config = config_name(config)
    except ValueError:
        return None
    return next((model for model in HUB_MODELS if model.filename == checkpoint.name and model.config == config), None)


def configured_model(settings: AppSettings) -> Optional[CatalogueModel]:
    """The model the app was started with: the local checkpoint (SAM2_CHECKPOINT + SAM2_CONFIG)
    under ``settings.model_id``, else the Hub model of that id (None: no such model). A local copy
    of a Hub checkpoint is called by the Hub model's label, as everywhere else on the page."""
    if settings.checkpoint:
        checkpoint = Path(settings.checkpoint)
        copy_of = hub_model_of_file(checkpoint, settings.config)
        label = copy_of.label if copy_of is not None else local_model_id(settings.checkpoint, settings.config)
        return CatalogueModel(settings.model_id, label, settings.config, local_file=checkpoint)
    return hub_model(settings.model_id)


def find_model(settings: AppSettings, model_id: str) -> Optional[CatalogueModel]:
    """The configured model or a Hub model, by id (None: unknown)."""
    configured = configured_model(settings)
    return configured if configured is not None and configured.model_id == model_id else hub_model(model_id)
