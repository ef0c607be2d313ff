"""The Gradio page: components, and events wired to the plain handlers."""

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
from .session import Session
from .settings import AppSettings

logger = logging.getLogger(__name__)
# Gradio's streaming video player needs ffmpeg and ffprobe on the PATH.
CAN_STREAM_VIDEO = bool(shutil.which("ffmpeg") and shutil.which("ffprobe"))
EXAMPLES = sorted(str(p) for p in (Path(__file__).resolve().parents[1] / "assets").glob("*.mp4"))
MODE_LABELS = {"Include (green)": handlers.INCLUDE, "Exclude (red)": handlers.EXCLUDE, "Box (two corners)": handlers.BOX}

INTRO = """# SAM 2 video tracker
1. Upload a video (or pick an example). 2. Click the object on any frame (green = include,
red = exclude, or draw a box). 3. Press **Track** and watch the masks appear. Correct any frame
with more clicks and track again; add objects; download the results."""


def _page_error(function: Callable, error: Exception) -> gr.Error:
    if isinstance(error, handlers.UserError):
        return gr.Error(str(error))
    if isinstance(error, gr.Error):
        return error
    logger.exception("handler %s failed", function.__name__)
    return gr.Error(f"Something went wrong ({type(error).__name__}). Your work so far is kept.")


def shows_errors(function: Callable) -> Callable:
    """Turn user mistakes into page notices and unexpected failures into a short message
    (never a stack trace); works for plain and generator handlers."""
    if inspect.isgeneratorfunction(function):
        @functools.wraps(function)
        def generator_wrapper(*args, **kwargs):
            try:
                yield from function(*args, **kwargs)
            except Exception as error:
                raise _page_error(function, error) from error

        return generator_wrapper

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except Exception as error:
            raise _page_error(function, error) from error

    return wrapper


def _object_choices(session: Session):
    return gr.update(choices=[str(i) for i in sorted(session.objects)], value=str(session.current_obj_id))


def build_ui(settings: AppSettings, engines: EngineCache) -> gr.Blocks:
    """The whole page. ``engines`` holds the model shared by every session."""

    def engine_or_error():
        engine = engines.get(current_model["id"])
        if isinstance(engine, ModelUnavailable):
            raise handlers.UserError(engine.message)
        return engine

    current_model = {"id": settings.model_id}

    def require(session):
        if session is None:
            raise handlers.UserError("Upload a video first.")
        return session

    @on_gpu
    @shows_errors
    def on_video(path, old_session):
        if old_session is not None:
            old_session.close()
        if not path:
            return None, None, gr.update(maximum=1, value=0), "No video loaded.", gr.update(choices=["1"], value="1")
        session = handlers.open_video(engine_or_error(), path, settings.limits)
        for notice in session.notices:
            gr.Warning(notice)
        slider = gr.update(maximum=max(session.num_frames - 1, 1), value=0, interactive=session.num_frames > 1)
        return session, handlers.render_frame(session, 0), slider, handlers.video_info(session), _object_choices(session)

    @shows_errors
    def on_frame(session, frame_idx):
        return handlers.render_frame(require(session), frame_idx)

    @shows_errors
    def on_step(session, frame_idx, step):
        session = require(session)
        frame_idx = min(max(int(frame_idx) + step, 0), session.num_frames - 1)
        return frame_idx, handlers.render_frame(session, frame_idx)

    @on_gpu
    @shows_errors
    def on_click(session, frame_idx, mode_label, event: gr.SelectData):
        session = require(session)
        x, y = event.index
        return handlers.click(engine_or_error(), session, frame_idx, float(x), float(y), MODE_LABELS[mode_label])

    @on_gpu
    @shows_errors
    def on_api_click(session, frame_idx, mode_label, x, y):
        session = require(session)
        if x is None or y is None:
            raise handlers.UserError("Give the click's x and y in video pixels.")
        return handlers.click(engine_or_error(), session, frame_idx, float(x), float(y), MODE_LABELS[mode_label])

    @on_gpu
    @shows_errors
    def on_undo(session, frame_idx):
        return handlers.undo_click(engine_or_error(), require(session), frame_idx)

    @on_gpu
    @shows_errors
    def on_clear(session, frame_idx):
        handlers.clear_object(engine_or_error(), require(session))
        return handlers.render_frame(session, frame_idx)

    @on_gpu
    @shows_errors
    def on_reset(session, frame_idx):
        handlers.reset_all(engine_or_error(), require(session))
        return handlers.render_frame(session, frame_idx), _object_choices(session)

    @shows_errors
    def on_add_object(session):
        handlers.add_object(require(session))
        return _object_choices(session)

    @shows_errors
    def on_select_object(session, obj_id, frame_idx):
        if session is None or obj_id is None:
            return gr.skip()
        handlers.select_object(session, int(obj_id))
        return handlers.render_frame(session, frame_idx)

    @on_gpu
    @shows_errors
    def on_remove_object(session, frame_idx):
        session = require(session)
        handlers.remove_object(engine_or_error(), session, session.current_obj_id)
        return _object_choices(session), handlers.render_frame(session, frame_idx)

    @on_gpu
    @shows_errors
    def on_track(session):
        session = require(session)
        engine = engine_or_error()
        last = None
        for update in handlers.track(engine, session):
            last = update
            chunk = update.chunk if update.chunk is not None and CAN_STREAM_VIDEO else gr.skip()
            yield (chunk, update.overlay, update.text,
                   gr.skip(), update.frame_idx)
        stopped = session.stop_requested.is_set()
        text = f"{'Stopped' if stopped else 'Done'}: {last.done} frames tracked. Writing the overlay video..." if last else "Nothing to track."
        yield gr.skip(), gr.skip(), text, gr.skip(), gr.skip()
        video = handlers.overlay_video(session)
        yield gr.skip(), gr.skip(), text.replace("Writing the overlay video...", "Overlay video ready."), str(video), gr.skip()

    def on_stop(session):
        if session is not None:
            handlers.request_stop(session)

    @on_gpu
    @shows_errors
    def on_export(session):
        return handlers.export_all(require(session)).as_list()

    @shows_errors
    def on_model(model_id, session):
        current_model["id"] = model_id
        engine_or_error()
        if session is not None:
            session.close()
        return None, None, "Model changed: upload the video again.", gr.update(choices=["1"], value="1")

    def close_session(session):
        if session is not None:
            session.close()

    limits = settings.limits
    with gr.Blocks(title="SAM 2 video tracker") as demo:
        gr.Markdown(INTRO)
        loaded = engines.get()
        model_note = (loaded.message if isinstance(loaded, ModelUnavailable)
                      else f"Model: **{loaded.name}** on {loaded.predictor.device} ({loaded.precision_name}).")
        gr.Markdown(model_note, elem_id="model-status")
        session_state = gr.State(None, time_to_live=limits.session_ttl, delete_callback=close_session)
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
                choices = model_choices(settings)
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

        heavy = dict(concurrency_id="model", concurrency_limit=limits.max_jobs)
        video_in.change(on_video, [video_in, session_state], [session_state, frame_view, frame_slider, info, object_choice],
                        api_name="open_video", **heavy)
        frame_slider.release(on_frame, [session_state, frame_slider], frame_view, api_name="show_frame")
        prev_button.click(functools.partial(on_step, step=-1), [session_state, frame_slider], [frame_slider, frame_view], api_name=False)
        next_button.click(functools.partial(on_step, step=1), [session_state, frame_slider], [frame_slider, frame_view], api_name=False)
        frame_view.select(on_click, [session_state, frame_slider, mode], frame_view, api_name=False, **heavy)
        api_click.click(on_api_click, [session_state, frame_slider, mode, click_x, click_y], frame_view, api_name="click", **heavy)
        undo_button.click(on_undo, [session_state, frame_slider], frame_view, api_name="undo", **heavy)
        clear_button.click(on_clear, [session_state, frame_slider], frame_view, api_name="clear_object", **heavy)
        reset_button.click(on_reset, [session_state, frame_slider], [frame_view, object_choice], api_name="reset", **heavy)
        add_button.click(on_add_object, session_state, object_choice, api_name="add_object")
        object_choice.input(on_select_object, [session_state, object_choice, frame_slider], frame_view, api_name="select_object")
        remove_button.click(on_remove_object, [session_state, frame_slider], [object_choice, frame_view], api_name="remove_object", **heavy)
        track_button.click(on_track, session_state, [stream, latest, progress, final_video, frame_slider], api_name="track", **heavy)
        stop_button.click(on_stop, session_state, None, api_name="stop", queue=False)
        export_button.click(on_export, session_state, export_files, api_name="export", **heavy)
        model_choice.input(on_model, [model_choice, session_state], [session_state, frame_view, info, object_choice], api_name=False, **heavy)
    return demo
