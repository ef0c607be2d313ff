"""What the page's events do: each finds the tab's session, calls a plain handler and turns
its result (or its error) into component updates. ``wire`` connects them to the page."""

import functools
import inspect
import logging
import shutil
from pathlib import Path
from typing import Callable, Optional

import gradio as gr

from . import handlers
from .errors import ModelCallFailed, SessionClosed, UserError
from .handlers import FrameView
from .model_calls import ModelCalls
from .page import MODE_LABELS, Page
from .session import Session
from .sessions import SessionStore
from .settings import Limits

logger = logging.getLogger(__name__)
# Gradio's streaming video player needs ffmpeg and ffprobe on the PATH.
CAN_STREAM_VIDEO = bool(shutil.which("ffmpeg") and shutil.which("ffprobe"))
CLOSED = "This video was closed (the tab was idle too long, or another video was opened): upload it again."
NO_VIDEO_INFO = "No video loaded."


def _page_error(function: Callable, error: Exception) -> gr.Error:
    if isinstance(error, UserError):
        return gr.Error(str(error))
    if isinstance(error, SessionClosed):
        return gr.Error(CLOSED)
    if isinstance(error, gr.Error):  # e.g. ZeroGPU's own "GPU task aborted" or quota messages
        return error
    if not isinstance(error, ModelCallFailed):
        logger.exception("handler %s failed", function.__name__)
    kind = error.error_class if isinstance(error, ModelCallFailed) else type(error).__name__
    return gr.Error(f"Something went wrong ({kind}). Your work so far is kept.")


def page_handler(function: Callable) -> Callable:
    """User mistakes become page notices, unexpected failures a short message (never a stack
    trace). For plain and generator functions."""
    if inspect.isgeneratorfunction(function):
        @functools.wraps(function)
        def generator(*args, **kwargs):
            try:
                yield from function(*args, **kwargs)
            except Exception as error:
                raise _page_error(function, error) from error

        return generator

    @functools.wraps(function)
    def plain(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except Exception as error:
            raise _page_error(function, error) from error

    return plain


def _viewer(view: FrameView):
    """(frame slider, frame view) updates: the number and the picture always change together."""
    return gr.update(value=view.frame_idx), view.image


def _objects(session: Session):
    return gr.update(choices=[str(i) for i in session.objects.ids], value=str(session.objects.current))


class PageEvents:
    """The page's event functions over the shared model calls and the open sessions."""

    def __init__(self, calls: ModelCalls, sessions: SessionStore, limits: Limits, models: list) -> None:
        self.calls = calls
        self.sessions = sessions
        self.limits = limits
        self.models = models
        self.output_root: Optional[Path] = None  # the web server's file cache, set by wire()

    def _model(self, model_id: Optional[str]) -> str:
        model_id = model_id or self.calls.engines.default_model_id
        if model_id not in self.models:
            raise UserError(f"Unknown model {model_id!r}: choose one of {', '.join(self.models)}.")
        self.calls.engine(model_id)
        return model_id

    @page_handler
    def open_video(self, path, model_id, request: gr.Request):
        """-> frame slider, frame view, video info, objects, progress, overlay video, downloads."""
        if not path:
            self.sessions.close(request.session_hash)
            return (gr.update(maximum=1, value=0), None, NO_VIDEO_INFO, gr.update(choices=["1"], value="1"), "",
                    None, None)
        # The open video stays until the new one has opened: a bad upload loses nothing.
        session = handlers.open_video(self.calls, path, self._model(model_id), self.limits, self.output_root)
        self.sessions.put(request.session_hash, session)
        for notice in session.video.notices:
            gr.Warning(notice)
        with session.in_use():
            view = handlers.show(session, 0)
        frames = session.video.num_frames
        slider = gr.update(maximum=max(frames - 1, 1), value=0, interactive=frames > 1)
        return slider, view.image, handlers.video_info(session), _objects(session), "", None, None

    def _on_session(self, request: gr.Request, action: Callable[[Session], FrameView], objects: bool = False):
        """``action`` on the tab's session -> the viewer's updates (then the object list)."""
        with self.sessions.using(request.session_hash) as session:
            updates = _viewer(action(session))
            return (*updates, _objects(session)) if objects else updates

    @page_handler
    def show_frame(self, frame_idx, request: gr.Request):
        """The frame the slider names (not sent again when it is shown already: a redraw could
        swallow a click on the viewer)."""
        session = self.sessions.get(request.session_hash)
        if session is not None and frame_idx == session.view.shown_frame:
            return gr.skip(), gr.skip()
        return self._on_session(request, lambda session: handlers.show(session, frame_idx))

    @page_handler
    def previous_frame(self, request: gr.Request):
        return self._on_session(request, lambda session: handlers.step(session, -1))

    @page_handler
    def next_frame(self, request: gr.Request):
        return self._on_session(request, lambda session: handlers.step(session, 1))

    @page_handler
    def click(self, mode_label, event: gr.SelectData, request: gr.Request):
        """A click on the viewer: it lands on the frame the viewer shows."""
        x, y = event.index
        mode = MODE_LABELS[mode_label]
        return self._on_session(request, lambda session: handlers.click(self.calls, session, float(x), float(y), mode))

    @page_handler
    def api_click(self, frame_idx, mode_label, x, y, request: gr.Request):
        """A click from a script: (x, y) in video pixels on ``frame_idx``."""
        if x is None or y is None:
            raise UserError("Give the click's x and y in video pixels.")
        mode = MODE_LABELS[mode_label]
        return self._on_session(
            request, lambda session: handlers.click(self.calls, session, float(x), float(y), mode, frame_idx))

    @page_handler
    def undo(self, request: gr.Request):
        return self._on_session(request, functools.partial(handlers.undo, self.calls))

    @page_handler
    def clear_object(self, request: gr.Request):
        return self._on_session(request, functools.partial(handlers.clear_object, self.calls))

    @page_handler
    def reset(self, request: gr.Request):
        return self._on_session(request, functools.partial(handlers.reset_all, self.calls), objects=True)

    @page_handler
    def add_object(self, request: gr.Request):
        return self._on_session(request, handlers.add_object, objects=True)

    @page_handler
    def select_object(self, obj_id, request: gr.Request):
        if obj_id is None:
            return gr.skip(), gr.skip()
        return self._on_session(request, lambda session: handlers.select_object(session, obj_id))

    @page_handler
    def remove_object(self, request: gr.Request):
        return self._on_session(request, functools.partial(handlers.remove_object, self.calls), objects=True)

    @page_handler
    def track(self, request: gr.Request):
        """-> stream chunk, frame slider, frame view, progress, overlay video; one update per frame."""
        with self.sessions.using(request.session_hash) as session:
            last = None
            for update in handlers.track(self.calls, session):
                last = update
                chunk = str(update.chunk) if update.chunk is not None and CAN_STREAM_VIDEO else gr.skip()
                viewer = _viewer(update.view) if update.view is not None else (gr.skip(), gr.skip())
                yield chunk, *viewer, update.text, gr.skip()
            if session.closed:  # the tab went away while tracking: nobody waits for the video
                return
            if last is None:
                yield gr.skip(), gr.skip(), gr.skip(), "Nothing to track.", gr.skip()
                return
            stopped = "Stopped" if session.files.stop.requested else "Done"
            text = f"{stopped}: {last.done} frames tracked."
            yield gr.skip(), gr.skip(), gr.skip(), f"{text} Writing the overlay video...", gr.skip()
            video = handlers.overlay_video(session)
            yield gr.skip(), gr.skip(), gr.skip(), f"{text} Overlay video ready.", str(video)

    def stop(self, request: gr.Request):
        session = self.sessions.get(request.session_hash)
        if session is not None:
            handlers.request_stop(session)

    @page_handler
    def export(self, request: gr.Request):
        with self.sessions.using(request.session_hash) as session:
            return handlers.export_all(session).as_list()

    @page_handler
    def change_model(self, model_id, request: gr.Request):
        """-> frame slider, frame view, video info, objects: the open video is closed."""
        self._model(model_id)
        self.sessions.close(request.session_hash)
        return (gr.update(maximum=1, value=0), None, "Model changed: upload the video again.",
                gr.update(choices=["1"], value="1"))

    def unload(self, request: gr.Request):
        self.sessions.close(request.session_hash)


def wire(page: Page, events: PageEvents, output_root: Path) -> None:
    """Connect the page's events. Every event that runs the model shares one queue with the
    configured concurrency; the viewer and the frame number are always outputs together."""
    events.output_root = output_root
    heavy = dict(concurrency_id="model", concurrency_limit=events.limits.max_jobs)
    # Frame changes run one at a time, in the order they came: the last one asked is shown.
    navigate = dict(concurrency_id="navigate", concurrency_limit=1)
    viewer = [page.frame_slider, page.frame_view]
    opened = [*viewer, page.info, page.object_choice, page.progress, page.final_video, page.export_files]
    page.video_in.change(events.open_video, [page.video_in, page.model_choice], opened, api_name="open_video", **heavy)
    page.frame_slider.input(events.show_frame, page.frame_slider, viewer, api_name="show_frame",
                            trigger_mode="always_last", **navigate)
    page.prev_button.click(events.previous_frame, None, viewer, api_name=False, **navigate)
    page.next_button.click(events.next_frame, None, viewer, api_name=False, **navigate)
    page.frame_view.select(events.click, page.mode, viewer, api_name=False, **heavy)
    page.api_click.click(events.api_click, [page.frame_slider, page.mode, page.click_x, page.click_y], viewer,
                         api_name="click", **heavy)
    page.undo_button.click(events.undo, None, viewer, api_name="undo", **heavy)
    page.clear_button.click(events.clear_object, None, viewer, api_name="clear_object", **heavy)
    page.reset_button.click(events.reset, None, [*viewer, page.object_choice], api_name="reset", **heavy)
    page.add_button.click(events.add_object, None, [*viewer, page.object_choice], api_name="add_object")
    page.object_choice.input(events.select_object, page.object_choice, viewer, api_name="select_object")
    page.remove_button.click(events.remove_object, None, [*viewer, page.object_choice], api_name="remove_object",
                             **heavy)
    page.track_button.click(events.track, None, [page.stream, *viewer, page.progress, page.final_video],
                            api_name="track", **heavy)
    page.stop_button.click(events.stop, None, None, api_name="stop", queue=False)
    page.export_button.click(events.export, None, page.export_files, api_name="export", **heavy)
    page.model_choice.input(events.change_model, page.model_choice, [*viewer, page.info, page.object_choice],
                            api_name=False, **heavy)
