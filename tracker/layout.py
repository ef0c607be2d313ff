"""The Gradio page: components, and events wired to the plain handlers."""

import contextlib
import functools
import inspect
import logging
import shutil
from pathlib import Path
from typing import Callable

import gradio as gr

from . import handlers
from .gpu import on_gpu
from .model_loading import EngineCache, ModelUnavailable, model_choices
from .registry import SessionRegistry
from .session import Session, SessionClosed
from .settings import AppSettings

logger = logging.getLogger(__name__)
# Gradio's streaming video player needs ffmpeg and ffprobe on the PATH.
CAN_STREAM_VIDEO = bool(shutil.which("ffmpeg") and shutil.which("ffprobe"))
EXAMPLES = sorted(str(p) for p in (Path(__file__).resolve().parents[1] / "assets").glob("*.mp4"))
MODE_LABELS = {"Include (green)": handlers.INCLUDE, "Exclude (red)": handlers.EXCLUDE, "Box (two corners)": handlers.BOX}
CLOSED = "This video was closed (the tab was idle too long, or another video was opened): upload it again."

INTRO = """# SAM 2 video tracker
1. Upload a video (or pick an example). 2. Click the object on any frame (green = include,
red = exclude, or draw a box). 3. Press **Track** and watch the masks appear. Correct any frame
with more clicks and track again; add objects; download the results."""


def _page_error(function: Callable, error: Exception) -> gr.Error:
    if isinstance(error, handlers.UserError):
        return gr.Error(str(error))
    if isinstance(error, SessionClosed):
        return gr.Error(CLOSED)
    if isinstance(error, gr.Error):
        return error
    logger.exception("handler %s failed", function.__name__)
    return gr.Error(f"Something went wrong ({type(error).__name__}). Your work so far is kept.")


def _sessions_kept(args) -> contextlib.ExitStack:
    """Hold every session among ``args`` open until the handler ends."""
    stack = contextlib.ExitStack()
    for session in {id(a): a for a in args if isinstance(a, Session)}.values():
        stack.enter_context(session.in_use())
    return stack


def page_handler(function: Callable) -> Callable:
    """Keep the handler's sessions open while it runs; turn user mistakes into page notices and
    unexpected failures into a short message (never a stack trace). For plain and generator
    handlers."""
    if inspect.isgeneratorfunction(function):
        @functools.wraps(function)
        def generator_wrapper(*args, **kwargs):
            try:
                with _sessions_kept(args):
                    yield from function(*args, **kwargs)
            except Exception as error:
                raise _page_error(function, error) from error

        return generator_wrapper

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            with _sessions_kept(args):
                return function(*args, **kwargs)
        except Exception as error:
            raise _page_error(function, error) from error

    return wrapper


def _object_choices(session: Session):
    return gr.update(choices=[str(i) for i in sorted(session.objects)], value=str(session.current_obj_id))


def build_ui(settings: AppSettings, engines: EngineCache) -> gr.Blocks:
    """The whole page. ``engines`` holds the model shared by every session.

    Each tab's session lives in a ``gr.State`` whose time-to-live counts from the last event
    that used it (every such event hands the session back), and in a registry by tab, so
    closing the tab frees it at once instead of when Gradio drops the state an hour later.
    """
    limits = settings.limits
    registry = SessionRegistry()
    choices = model_choices(settings)

    def engine_for(model_id):
        model_id = model_id or settings.model_id
        if model_id not in choices:
            raise handlers.UserError(f"Unknown model {model_id!r}: choose one of {', '.join(choices)}.")
        engine = engines.get(model_id)
        if isinstance(engine, ModelUnavailable):
            raise handlers.UserError(engine.message)
        return engine

    def require(session):
        if session is None:
            raise handlers.UserError("Upload a video first.")
        return session

    def engine_of(session):
        return engine_for(require(session).model_id)

    @on_gpu
    @page_handler
    def on_video(path, old_session, model_id, request: gr.Request):
        tab = request.session_hash if request is not None else None
        if not path:
            if tab:
                registry.close(tab)
            if old_session is not None:
                old_session.close()
            return None, None, gr.update(maximum=1, value=0), "No video loaded.", gr.update(choices=["1"], value="1")
        # The open video stays until the new one has opened: a bad upload loses nothing.
        session = handlers.open_video(engine_for(model_id), path, limits, output_root)
        session.model_id = model_id
        if tab:
            registry.put(tab, session)
        if old_session is not None:
            old_session.close()
        for notice in session.notices:
            gr.Warning(notice)
        slider = gr.update(maximum=max(session.num_frames - 1, 1), value=0, interactive=session.num_frames > 1)
        return session, handlers.render_frame(session, 0), slider, handlers.video_info(session), _object_choices(session)

    @page_handler
    def on_frame(session, frame_idx):
        return handlers.render_frame(require(session), frame_idx), session

    @page_handler
    def on_step(session, frame_idx, step):
        session = require(session)
        frame_idx = min(max(int(frame_idx) + step, 0), session.num_frames - 1)
        return frame_idx, handlers.render_frame(session, frame_idx), session

    @on_gpu
    @page_handler
    def on_click(session, frame_idx, mode_label, event: gr.SelectData):
        x, y = event.index
        return handlers.click(engine_of(session), session, frame_idx, float(x), float(y), MODE_LABELS[mode_label]), session

    @on_gpu
    @page_handler
    def on_api_click(session, frame_idx, mode_label, x, y):
        engine = engine_of(session)
        if x is None or y is None:
            raise handlers.UserError("Give the click's x and y in video pixels.")
        return handlers.click(engine, session, frame_idx, float(x), float(y), MODE_LABELS[mode_label]), session

    @on_gpu
    @page_handler
    def on_undo(session, frame_idx):
        return handlers.undo_click(engine_of(session), session, frame_idx), session

    @on_gpu
    @page_handler
    def on_clear(session, frame_idx):
        handlers.clear_object(engine_of(session), session)
        return handlers.render_frame(session, frame_idx), session

    @on_gpu
    @page_handler
    def on_reset(session, frame_idx):
        handlers.reset_all(engine_of(session), session)
        return handlers.render_frame(session, frame_idx), _object_choices(session), session

    @page_handler
    def on_add_object(session):
        handlers.add_object(require(session))
        return _object_choices(session), session

    @page_handler
    def on_select_object(session, obj_id, frame_idx):
        if session is None or obj_id is None:
            return gr.skip(), gr.skip()
        handlers.select_object(session, int(obj_id))
        return handlers.render_frame(session, frame_idx), session

    @on_gpu
    @page_handler
    def on_remove_object(session, frame_idx):
        handlers.remove_object(engine_of(session), session, session.current_obj_id)
        return _object_choices(session), handlers.render_frame(session, frame_idx), session

    @on_gpu
    @page_handler
    def on_track(session):
        engine = engine_of(session)
        last = None
        for update in handlers.track(engine, session):
            last = update
            chunk = update.chunk if update.chunk is not None and CAN_STREAM_VIDEO else gr.skip()
            yield chunk, update.overlay, update.text, gr.skip(), update.frame_idx, session
        if session.closed:  # the tab went away while tracking: nobody waits for the video
            return
        stopped = session.stop_requested.is_set()
        text = f"{'Stopped' if stopped else 'Done'}: {last.done} frames tracked. Writing the overlay video..." if last else "Nothing to track."
        yield gr.skip(), gr.skip(), text, gr.skip(), gr.skip(), session
        video = handlers.overlay_video(session)
        yield gr.skip(), gr.skip(), text.replace("Writing the overlay video...", "Overlay video ready."), str(video), gr.skip(), session

    def on_stop(session):
        if session is not None:
            handlers.request_stop(session)

    @on_gpu
    @page_handler
    def on_export(session):
        return handlers.export_all(require(session)).as_list(), session

    @page_handler
    def on_model(model_id, session, request: gr.Request):
        engine_for(model_id)
        if request is not None and request.session_hash:
            registry.close(request.session_hash)
        if session is not None:
            session.close()
        return None, None, "Model changed: upload the video again.", gr.update(choices=["1"], value="1")

    def on_unload(request: gr.Request):
        registry.close(request.session_hash)

    def on_state_deleted(session):
        if session is not None:
            registry.discard(session)

    # Gradio deletes uploads older than a session may idle; a session keeps its own link to its video.
    with gr.Blocks(title="SAM 2 video tracker", delete_cache=(min(limits.session_ttl, 600), limits.session_ttl)) as demo:
        output_root = Path(demo.GRADIO_CACHE)
        gr.Markdown(INTRO)
        loaded = engines.get()
        model_note = (loaded.message if isinstance(loaded, ModelUnavailable)
                      else f"Model: **{loaded.name}** on {loaded.predictor.device} ({loaded.precision_name}).")
        gr.Markdown(model_note, elem_id="model-status")
        session_state = gr.State(None, time_to_live=limits.session_ttl, delete_callback=on_state_deleted)
        with gr.Row():
            with gr.Column(scale=3):
                video_in = gr.Video(label="Video", sources=["upload"], elem_id="video-input")
                if EXAMPLES:
                    gr.Examples(EXAMPLES, inputs=video_in, label="Examples (made by assets/make_examples.py)")
                info = gr.Markdown("No video loaded.", elem_id="video-info")
                frame_view = gr.Image(label="Click the object", type="numpy", interactive=False, elem_id="frame-view")
                with gr.Row():
                    prev_button = gr.Button("◀ Prev", size="sm", elem_id="prev-frame")
                    frame_slider = gr.Slider(0, 1, value=0, step=1, label="Frame", elem_id="frame-slider")
                    next_button = gr.Button("Next ▶", size="sm", elem_id="next-frame")
                mode = gr.Radio(list(MODE_LABELS), value="Include (green)", label="Click adds", elem_id="click-mode")
                with gr.Row():
                    undo_button = gr.Button("Undo last point", elem_id="undo")
                    clear_button = gr.Button("Clear object", elem_id="clear-object")
                    reset_button = gr.Button("Reset all", elem_id="reset")
                with gr.Row():
                    object_choice = gr.Dropdown(["1"], value="1", label="Object", elem_id="object-choice")
                    add_button = gr.Button("Add object", elem_id="add-object")
                    remove_button = gr.Button("Remove object", elem_id="remove-object")
                model_choice = gr.Dropdown(choices, value=settings.model_id, label="Model", visible=len(choices) > 1)
            with gr.Column(scale=3):
                with gr.Row():
                    track_button = gr.Button("Track", variant="primary", elem_id="track")
                    stop_button = gr.Button("Stop", variant="stop", elem_id="stop")
                progress = gr.Markdown("", elem_id="progress")
                stream = gr.Video(label="Tracking (live)", streaming=True, autoplay=True, interactive=False,
                                  elem_id="stream", visible=CAN_STREAM_VIDEO)
                latest = gr.Image(label="Latest tracked frame", type="numpy", interactive=False, elem_id="latest")
                final_video = gr.Video(label="Overlay video", interactive=False, elem_id="overlay-video")
                export_button = gr.Button("Export masks", elem_id="export")
                export_files = gr.File(label="Downloads", file_count="multiple", interactive=False, elem_id="downloads")
        with gr.Row(visible=False):  # the click as an API call (x, y in video pixels), for scripts
            click_x, click_y = gr.Number(label="x"), gr.Number(label="y")
            api_click = gr.Button("click")

        # Every event that runs the model shares one queue with the configured concurrency.
        heavy = dict(concurrency_id="model", concurrency_limit=limits.max_jobs)
        state = session_state
        video_in.change(on_video, [video_in, state, model_choice], [state, frame_view, frame_slider, info, object_choice],
                        api_name="open_video", **heavy)
        frame_slider.release(on_frame, [state, frame_slider], [frame_view, state], api_name="show_frame")
        prev_button.click(functools.partial(on_step, step=-1), [state, frame_slider], [frame_slider, frame_view, state], api_name=False)
        next_button.click(functools.partial(on_step, step=1), [state, frame_slider], [frame_slider, frame_view, state], api_name=False)
        frame_view.select(on_click, [state, frame_slider, mode], [frame_view, state], api_name=False, **heavy)
        api_click.click(on_api_click, [state, frame_slider, mode, click_x, click_y], [frame_view, state], api_name="click", **heavy)
        undo_button.click(on_undo, [state, frame_slider], [frame_view, state], api_name="undo", **heavy)
        clear_button.click(on_clear, [state, frame_slider], [frame_view, state], api_name="clear_object", **heavy)
        reset_button.click(on_reset, [state, frame_slider], [frame_view, object_choice, state], api_name="reset", **heavy)
        add_button.click(on_add_object, state, [object_choice, state], api_name="add_object")
        object_choice.input(on_select_object, [state, object_choice, frame_slider], [frame_view, state], api_name="select_object")
        remove_button.click(on_remove_object, [state, frame_slider], [object_choice, frame_view, state], api_name="remove_object", **heavy)
        track_button.click(on_track, state, [stream, latest, progress, final_video, frame_slider, state], api_name="track", **heavy)
        stop_button.click(on_stop, state, None, api_name="stop", queue=False)
        export_button.click(on_export, state, [export_files, state], api_name="export", **heavy)
        model_choice.input(on_model, [model_choice, state], [state, frame_view, info, object_choice], api_name=False, **heavy)
        demo.unload(on_unload)
    return demo
