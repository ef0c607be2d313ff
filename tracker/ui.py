"""The app put together: the shared models, the open sessions, the page and its events."""

from pathlib import Path

import gradio as gr

from .events import ModelMenu, PageEvents, wire
from .gpu import zero_gpu_active
from .model_calls import ModelCalls, ModelChoice
from .engine import default_image_size, size_choices
from .model_loading import EngineCache, ModelUnavailable, model_choices
from .page import PageOptions, build_page
from .sessions import SessionStore
from .settings import AppSettings

EXAMPLES = sorted(str(p) for p in (Path(__file__).resolve().parents[1] / "assets").glob("*.mp4"))


def model_menu(settings: AppSettings, engines: EngineCache) -> ModelMenu:
    """The models offered (on ZeroGPU only the configured one, which must be on the GPU before
    the first worker is forked), the input sizes (on CPUs only) and what Compare can run."""
    models = [settings.model_id] if zero_gpu_active() else model_choices(settings)
    loaded = engines.get()
    if isinstance(loaded, ModelUnavailable):
        return ModelMenu(models, 0)
    size = default_image_size(loaded, settings)
    on_cpu = loaded.predictor.device.type == "cpu" and not zero_gpu_active()
    sizes = sorted({*size_choices(loaded), size}) if on_cpu else []
    compare = {model_id: ModelChoice(model_id) for model_id in models if model_id != settings.model_id}
    compare.update({f"{settings.model_id} at {s} px": ModelChoice(settings.model_id, s) for s in sizes if s != size})
    return ModelMenu(models, size, sizes, compare)


def build_ui(settings: AppSettings, engines: EngineCache) -> gr.Blocks:
    """The whole page. The configured model is loaded here, before the app serves (and, on
    ZeroGPU, before any worker is forked: each worker starts with it)."""
    limits = settings.limits
    menu = model_menu(settings, engines)
    loaded = engines.get()
    model_note = loaded.message if isinstance(loaded, ModelUnavailable) else f"Model: {loaded.description}."
    sessions = SessionStore(ttl=limits.session_ttl)
    events = PageEvents(ModelCalls(engines), sessions, limits, menu)
    options = PageOptions(model_note, menu.models, settings.model_id, menu.sizes, menu.default_size,
                          list(menu.compare), EXAMPLES)
    # Gradio deletes uploads older than a session may idle; a session keeps its own link to its video.
    delete_cache = (min(limits.session_ttl, 600), limits.session_ttl)
    with gr.Blocks(title="SAM 2 video tracker", delete_cache=delete_cache) as demo:
        page = build_page(options)
        wire(page, events, Path(demo.GRADIO_CACHE))
        demo.unload(events.unload)
    return demo
