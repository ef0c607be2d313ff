"""The app put together: the shared models, the open sessions, the page and its events."""

from pathlib import Path

import gradio as gr

from ..model.calls import ModelCalls
from ..model.loading import EngineCache, ModelUnavailable
from ..sessions.store import SessionStore
from ..settings import AppSettings
from .events import PageEvents, wire
from .layout import PageOptions, build_page
from .model_menu import model_menu

EXAMPLES = sorted(str(p) for p in (Path(__file__).resolve().parents[1] / "assets").glob("*.mp4"))


def build_ui(settings: AppSettings, engines: EngineCache) -> gr.Blocks:
    """The whole page. The configured model is loaded here, before the app serves (and, on
    ZeroGPU, before any worker is forked: each worker starts with it)."""
    limits = settings.limits
    menu = model_menu(settings, engines)
    loaded = engines.get()
    model_note = loaded.message if isinstance(loaded, ModelUnavailable) else f"Model: {loaded.description}."
    sessions = SessionStore(ttl=limits.session_ttl)
    events = PageEvents(ModelCalls(engines), sessions, limits, menu)
    configured = settings.model_id if any(m.model_id == settings.model_id for m in menu.models) else None
    options = PageOptions(model_note, menu.choices, configured, menu.sizes, menu.default_size,
                          list(menu.compare), menu.default_compare, EXAMPLES)
    # Gradio deletes uploads older than a session may idle; a session keeps its own link to its video.
    delete_cache = (min(limits.session_ttl, 600), limits.session_ttl)
    with gr.Blocks(title="SAM 2 video tracker", delete_cache=delete_cache) as demo:
        page = build_page(options)
        wire(page, events, Path(demo.GRADIO_CACHE))
        demo.unload(events.unload)
    return demo
