"""Where a model's weights are: its local file, the checkpoints folder, the Hugging Face cache,
or (only when asked to load the model) a download; and what to say when none works.

Whether the Hub can be reached is asked once per process, briefly: an offline machine (a lab,
a train, an air-gapped server) waits a few seconds once and is then told, at once, for every
model that is not here, instead of waiting for the Hub client's retries each time.
"""

import logging
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Optional, Union

from sam2.models import config_name, download_checkpoint, save_random_checkpoint

from ..settings import AppSettings, local_model_id
from .catalogue import CatalogueModel, find_model

logger = logging.getLogger(__name__)
HUB_PROBE_SECONDS = 3.0


@dataclass(frozen=True)
class ModelUnavailable:
    """Why no model could be loaded, and what the user can do about it."""

    message: str


def _hub_cache_path(model: CatalogueModel) -> Optional[str]:
    from huggingface_hub import try_to_load_from_cache

    hub = model.hub
    found = try_to_load_from_cache(hub.repo_id, hub.filename, repo_type=hub.repo_type)
    return found if isinstance(found, str) else None


# A public model the Hub (or a mirror of it) describes; what a proxy or captive portal answers
# for it is not a 2xx.
PROBED_MODEL = "facebook/sam2.1-hiera-tiny"


def probe_hub(timeout: float = HUB_PROBE_SECONDS) -> Optional[str]:
    """None when the Hub describes a public model within ``timeout`` seconds (or says the caller
    must log in), else why not."""
    from huggingface_hub import constants

    url = f"{constants.ENDPOINT}/api/models/{PROBED_MODEL}"
    try:
        urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout)
    except urllib.error.HTTPError as error:
        if error.code in (401, 403):
            return None
        return f"the Hugging Face Hub ({constants.ENDPOINT}) cannot be reached (HTTP {error.code} for {url})"
    except (urllib.error.URLError, OSError) as error:
        return f"the Hugging Face Hub ({constants.ENDPOINT}) cannot be reached ({getattr(error, 'reason', error)})"
    return None


class HubAccess:
    """Whether weights can be downloaded: not with HF_HUB_OFFLINE=1, nor when the Hub did not
    answer the one ``probe`` this process makes (logged once)."""

    def __init__(self, probe: Callable[[], Optional[str]] = probe_hub) -> None:
        self._probe = probe
        self._verdict: Optional[Optional[str]] = None
        self._asked = False
        self._lock = threading.Lock()

    def unavailable_reason(self) -> Optional[str]:
        """None when downloads can be tried, else why not."""
        from huggingface_hub import is_offline_mode

        if is_offline_mode():
            return "HF_HUB_OFFLINE is set"
        with self._lock:
            if not self._asked:
                self._verdict, self._asked = self._probe(), True
                if self._verdict is not None:
                    logger.warning("Working offline: %s. Only models whose weights are on this machine can be "
                                   "used (set HF_HUB_OFFLINE=1 to skip this check).", self._verdict)
        return self._verdict


HUB = HubAccess()


def downloads_allowed() -> bool:
    """Whether models not on this machine can be downloaded (see :class:`HubAccess`)."""
    return HUB.unavailable_reason() is None


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
    offline = HUB.unavailable_reason()
    if offline is not None:
        return _unavailable(model, settings, f"they are not on this machine and {offline}")
    try:
        return download_checkpoint(model.hub)
    except Exception as error:  # hub down, gated repo, disk full...
        reason = str(error).splitlines()[0] if str(error) else ""
        return _unavailable(model, settings, f"{type(error).__name__}{': ' + reason if reason else ''}")


def _unavailable(model: CatalogueModel, settings: AppSettings, why: str) -> ModelUnavailable:
    return ModelUnavailable(
        f"The weights of {model.label} ({model.model_id}) could not be downloaded ({why}). Put {model.filename} "
        f"(from {_source(model)}) into {settings.checkpoints_dir}/ (see checkpoints/README.md), or start the app "
        f"with SAM2_CHECKPOINT=/path/to/{model.filename} SAM2_CONFIG={model.config}."
    )


RANDOM_WEIGHTS_DIR = Path.home() / ".cache" / "sam2" / "random-weights"


def with_random_weights(settings: AppSettings) -> AppSettings:
    """``settings`` running its model's config on seeded random weights, written once to
    ``RANDOM_WEIGHTS_DIR/random-<config>.pt`` (the file is named so that nobody takes its masks
    for the model's)."""
    if settings.config is not None:
        config = config_name(settings.config)
    else:
        model = find_model(settings, settings.model_id)
        if model is None:
            raise ValueError(f"unknown model {settings.model_id!r}: give --config with --random-weights")
        config = config_name(model.config)
    path = RANDOM_WEIGHTS_DIR / f"random-{config}.pt"
    if not path.is_file():
        logger.info("Writing seeded random weights of %s to %s (once)", config, path)
        save_random_checkpoint(config, str(path))
    return replace(settings, checkpoint=str(path), config=config, model_id=local_model_id(str(path), config))
