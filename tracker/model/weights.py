"""Where a model's weights are: its local file, the checkpoints folder, the Hugging Face cache,
or (only when asked to load the model) a download; and what to say when none works."""

from dataclasses import dataclass
from typing import Optional, Union

from sam2.models import download_checkpoint

from ..settings import AppSettings
from .catalogue import CatalogueModel


@dataclass(frozen=True)
class ModelUnavailable:
    """Why no model could be loaded, and what the user can do about it."""

    message: str


def _hub_cache_path(model: CatalogueModel) -> Optional[str]:
    from huggingface_hub import try_to_load_from_cache

    hub = model.hub
    found = try_to_load_from_cache(hub.repo_id, hub.filename, repo_type=hub.repo_type)
    return found if isinstance(found, str) else None


def downloads_allowed() -> bool:
    """False when huggingface_hub is told to stay offline (HF_HUB_OFFLINE=1)."""
    from huggingface_hub import is_offline_mode

    return not is_offline_mode()


def local_weights(model: CatalogueModel, settings: AppSettings) -> Optional[str]:
    """The weights' path without downloading: the given file, else ``checkpoints/<file>``, else
    the Hub cache (None: not here)."""
    if model.local_file is not None:
        return str(model.local_file)
    in_folder = settings.checkpoints_dir / model.filename
    if in_folder.is_file():
        return str(in_folder)
    return _hub_cache_path(model)


def _source(model: CatalogueModel) -> str:
    hub = model.hub
    kind = "Space" if hub.repo_type == "space" else "model repository"
    return f"the Hugging Face {kind} {hub.repo_id}, file {hub.filename}"


def find_weights(model: CatalogueModel, settings: AppSettings) -> Union[str, ModelUnavailable]:
    """The weights' path: local (see :func:`local_weights`), else downloaded into the Hub cache;
    or what to do when the download fails (the page shows it)."""
    found = local_weights(model, settings)
    if found is not None:
        return found
    try:
        return download_checkpoint(model.hub)
    except Exception as error:  # no network, offline mode, hub down, gated repo...
        reason = str(error).splitlines()[0] if str(error) else ""
        return ModelUnavailable(
            f"The weights of {model.label} ({model.model_id}) could not be downloaded ({type(error).__name__}"
            f"{': ' + reason if reason else ''}). Put {model.filename} (from {_source(model)}) into "
            f"{settings.checkpoints_dir}/ (see checkpoints/README.md), or start the app with "
            f"SAM2_CHECKPOINT=/path/to/{model.filename} SAM2_CONFIG={model.config}."
        )
