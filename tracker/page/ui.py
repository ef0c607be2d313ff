"""The app put together: the shared models, the page, its events and its per-tab sessions."""

import importlib.util
from pathlib import Path
from typing import Callable

import gradio as gr

from ..model.calls import ModelCalls
from ..model.loading import EngineCache, ModelUnavailable
from ..settings import AppSettings
from .events import PageEvents, wire
from .layout import FIND_NOTE, PageOptions, build_page
from .model_menu import model_menu

EXAMPLES = sorted(str(p) for p in (Path(__file__).resolve().parents[1] / "assets").glob("*.mp4"))


def build_ui(settings: AppSettings, engines: EngineCache) -> gr.Blocks:
    """The whole page. The configured model is loaded here, before the app serves (and, on
    ZeroGPU, before any worker is forked: each worker starts with it)."""
    limits = settings.limits
    menu = model_menu(settings, engines)
    loaded = engines.get()
    model_note = loaded.message if isinstance(loaded, ModelUnavailable) else f"Model: {loaded.description}."
    events = PageEvents(ModelCalls(engines), limits, menu)
    configured = settings.model_id if any(m.model_id == settings.model_id for m in menu.models) else None
    options = PageOptions(model_note, menu.choices, configured, menu.sizes, menu.default_size,
                          menu.compare_labels, menu.default_compare, EXAMPLES, limits.session_ttl, menu.trackers,
                          find_note(settings))
    # Gradio deletes uploads older than a session may idle; a session keeps its own link to its video.
    delete_cache = (min(limits.session_ttl, 600), limits.session_ttl)
    with gr.Blocks(title="SAM 2 video tracker", delete_cache=delete_cache) as demo:
        page = build_page(options)
        wire(page, events, Path(demo.GRADIO_CACHE))
        demo.unload(tab_closer(demo))
    return demo


def find_note(settings: AppSettings) -> str:
    """What the page says under "Find by text": how to use it, or what it needs."""
    if importlib.util.find_spec("transformers") is None:
        return "Needs the transformers package: pip install transformers (then restart the app)."
    return f"{FIND_NOTE} Detector: {settings.text_detector}."


def tab_closer(demo: gr.Blocks) -> Callable[[gr.Request], None]:
    """The page's unload event: a closed tab's session goes at once (Gradio alone keeps a closed
    tab's state an hour, for a reload): its per-tab state is deleted, which closes the session."""

    def close_tab(request: gr.Request) -> None:
        demo.state_holder.delete_state(request.session_hash)

    return close_tab
