"""What the page's events do: each takes the tab's session (the page's ``gr.State``), calls a
plain handler and turns its result (or its error) into component updates, the session last: a
session given back to Gradio lives ``session_ttl`` seconds more. ``wire`` connects them."""

import functools
import inspect
import logging
import shutil
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Optional

import gradio as gr

from ..actions import exporting, finding, opening, prompting, roster, showing, tracking
from ..actions.compare import Comparison, compare
from ..actions.showing import FrameView
from ..errors import ModelCallFailed, SessionClosed, UserError
from ..media.mask_image import mask_from_image
from ..media.object_list import object_list_html
from ..media.publish import publish_image
from ..model.calls import ModelCalls, ModelChoice
from ..model.engine import default_image_size, offered_sizes
from ..model.weights import local_weights
from ..sessions.session import ObjectRoster, Session
from ..sessions.window import FRAMES, seconds
from ..settings import Limits
from ..wording import plural
from .layout import MODE_LABELS, Page
from .model_menu import ModelMenu, tracker_title

logger = logging.getLogger(__name__)
CLOSED = "This video was closed (the tab was idle too long, or another video was opened): upload it again."
NO_VIDEO_INFO = "No video loaded."
NO_VIDEO = "Upload a video first."


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


SKIP_VIEWER = (gr.skip(), gr.skip(), gr.skip(), gr.skip())


def _objects(session: Session):
    """(object list, name box) updates: the objects, the selected one and its name."""
    objects = session.objects
    return (gr.update(choices=objects.labels(), value=objects.label(objects.current)),
            objects.names.get(objects.current, ""))


NO_OBJECTS = (gr.update(choices=ObjectRoster().labels(), value=ObjectRoster().label(1)), "")
# What a session's results and side panels show, emptied (progress line, overlay video,
# downloads, mask editor, uploaded mask, Compare's text, video and table): after a new video
# or Reset all nothing of the old work is left on the page.
NO_RESULTS = ("", None, None, None, None, "", None, gr.update(value=None, visible=False),
              gr.update(choices=[], value=[], visible=False), gr.update(visible=False))
# The offer of "Find by text" withdrawn (its list and button hidden).
NO_FINDINGS = (gr.update(choices=[], value=[], visible=False), gr.update(visible=False))


def _window_fields(session: Session, unit: str):
    """(slider properties, from, to) for the session's window: the slider spans it."""
    window = session.window
    if unit == FRAMES:
        start, end = window.start, window.last
    else:
        start, end = (round(t, 3) for t in seconds(window, session.video.frame_times))
    slider = dict(minimum=window.start, maximum=max(window.last, window.start + 1), interactive=len(window) > 1)
    return slider, start, end


def _open(session: Optional[Session]) -> Session:
    """The tab's session, or a UserError when no video is open."""
    if session is None:
        raise UserError(NO_VIDEO)
    return session


class PageEvents:
    """The page's event functions over the shared model calls; each tab's session comes in as
    the first argument and goes back as the last update."""

    def __init__(self, calls: ModelCalls, limits: Limits, menu: ModelMenu) -> None:
        self.calls = calls
        self.limits = limits
        self.menu = menu
        # Gradio streams video through the system's ffmpeg and ffprobe: without them the
        # overlay video appears when Track ends.
        self.streams_overlay = bool(shutil.which("ffmpeg") and shutil.which("ffprobe"))
        # The web server's file cache (set by wire()); outside a server, a folder of its own.
        self.output_root = Path(tempfile.gettempdir()) / "sam2-tracker-outputs"

    def _viewer(self, view: FrameView):
        """(frame slider, frame view, timeline, object list) updates: the number and the pictures
        change together; the pictures as files that appear whole."""
        return (gr.update(value=view.frame_idx), publish_image(view.image, self.output_root, "frame"),
                publish_image(view.timeline, self.output_root, "timeline"), object_list_html(view.objects))

    def _model(self, model_id: Optional[str], image_size=None, tracker=None) -> ModelChoice:
        """The offered model ``model_id`` (default: the configured one) at ``image_size`` (None,
        or where sizes are not a choice: its default) with ``tracker`` (default: SAM 2's own),
        loaded; UserError if any is not offered."""
        model_id = model_id or self.calls.engines.default_model_id
        self.menu.model(model_id)
        tracker = self.menu.tracker(tracker)
        if not (image_size and self.menu.sizes_offered):
            return ModelChoice(model_id, self.calls.engine(ModelChoice(model_id)).image_size, tracker)
        sizes = offered_sizes(self.calls.engine(ModelChoice(model_id)), self.calls.engines.settings)
        if int(image_size) not in sizes:
            raise UserError(f"Input size {image_size} is not offered for this model: choose one of {sizes}.")
        choice = ModelChoice(model_id, int(image_size), tracker)
        self.calls.engine(choice)
        return choice

    def _status(self, model: ModelChoice, session: Optional[Session] = None) -> str:
        """The model status line: the model, device and precision, the tracker, and the session's
        last Track speed."""
        status = f"Model: {self.calls.engine(model).description}, tracker: {tracker_title(model.tracker)}"
        speed = session.last_track if session is not None else None
        if speed is not None and speed.model == model:
            status += f", last Track {speed.text}"
        return status + "."

    @page_handler
    def open_video(self, previous: Optional[Session], path, model_id, image_size, unit, tracker=None):
        """-> slider, frame view, timeline, object list, video info, window from, to, objects, the
        results emptied (``NO_RESULTS``), session."""
        if not path:
            if previous is not None:
                previous.close()
            return (gr.update(minimum=0, maximum=1, value=0), None, None, "", NO_VIDEO_INFO, 0, 0, *NO_OBJECTS,
                    *NO_RESULTS, None)
        # The open video stays until the new one has opened: a bad upload loses nothing.
        session = opening.open_video(self.calls, path, self._model(model_id, image_size, tracker), self.limits,
                                      self.output_root)
        if previous is not None:
            previous.close()
        for notice in session.video.notices:
            gr.Warning(notice)
        with session.in_use():
            view = showing.show(session, session.window.start)
        slider, start, end = _window_fields(session, unit)
        _, *drawn = self._viewer(view)
        return (gr.update(**slider, value=view.frame_idx), *drawn, opening.video_info(session),
                start, end, *_objects(session), *NO_RESULTS, session)

    def _on_session(self, session: Optional[Session], action: Callable[[Session], FrameView], objects: bool = False):
        """``action`` on the tab's session -> the viewer's updates (then the object list and
        name), then the session."""
        with _open(session).in_use():
            with session.view.choosing_frame():
                view = action(session)
            updates = self._viewer(view)
            return (*updates, *_objects(session), session) if objects else (*updates, session)

    @page_handler
    def show_frame(self, session: Optional[Session], frame_idx):
        """The frame the slider names (not sent again when it is shown already: a redraw could
        swallow a click on the viewer)."""
        if session is not None and frame_idx == session.view.shown_frame:
            return (*SKIP_VIEWER, session)
        return self._on_session(session, lambda session: showing.show(session, frame_idx))

    @page_handler
    def previous_frame(self, session: Optional[Session]):
        return self._on_session(session, lambda session: showing.step(session, -1))

    @page_handler
    def next_frame(self, session: Optional[Session]):
        return self._on_session(session, lambda session: showing.step(session, 1))

    @page_handler
    def play(self, session: Optional[Session]):
        """The window's frames with their masks from the shown one on, at the video's rate (the
        viewer's updates, one per frame, and the session), until the window's end or Pause."""
        with _open(session).in_use():
            with session.view.choosing_frame():
                generation = session.view.play_generation
            interval, due = 1.0 / session.video.fps, time.monotonic()
            for frame_idx in showing.frames_to_play(session):
                with session.view.lock:
                    if session.view.play_generation != generation:
                        return  # paused, or another frame was chosen
                    view = showing.show(session, frame_idx)
                yield *self._viewer(view), session  # each frame Play shows reaches the page: it ends on the frame shown
                due += interval
                time.sleep(max(0.0, due - time.monotonic()))

    @page_handler
    def pause(self, session: Optional[Session]):
        """Stop a Play on the frame it showed last."""
        return self._on_session(session, lambda session: showing.show(session, session.view.shown_frame))

    @page_handler
    def timeline_click(self, session: Optional[Session], event: gr.SelectData):
        x = event.index[0]
        return self._on_session(session, lambda session: showing.timeline_click(session, float(x)))

    @page_handler
    def set_window(self, session: Optional[Session], unit, start, end):
        """-> slider, frame view, timeline, object list, video info, from, to, session."""
        with _open(session).in_use():
            with session.view.choosing_frame():
                view = opening.set_window(session, start, end, unit)
            slider, start, end = _window_fields(session, unit)
            _, *drawn = self._viewer(view)
            return gr.update(**slider, value=view.frame_idx), *drawn, opening.video_info(session), start, end, session

    @page_handler
    def window_unit(self, session: Optional[Session], unit):
        """-> from, to: the window in the unit chosen."""
        if session is None:
            return gr.skip(), gr.skip()
        return _window_fields(session, unit)[1:]

    @page_handler
    def click(self, session: Optional[Session], mode_label, event: gr.SelectData):
        """A click on the viewer: it lands on the frame the viewer shows."""
        x, y = event.index
        mode = MODE_LABELS[mode_label]
        return self._on_session(session, lambda session: prompting.click(self.calls, session, float(x), float(y), mode))

    @page_handler
    def api_click(self, session: Optional[Session], frame_idx, mode_label, x, y):
        """A click from a script: (x, y) in video pixels on ``frame_idx``."""
        if x is None or y is None:
            raise UserError("Give the click's x and y in video pixels.")
        mode = MODE_LABELS[mode_label]
        return self._on_session(
            session, lambda session: prompting.click(self.calls, session, float(x), float(y), mode, frame_idx))

    @page_handler
    def paint_frame(self, session: Optional[Session]):
        """-> mask editor: the shown frame to paint on; session."""
        with _open(session).in_use():
            return {"background": prompting.paint_frame(session), "layers": [], "composite": None}, session

    @page_handler
    def use_painted_mask(self, session: Optional[Session], value):
        def action(session: Session) -> FrameView:
            return prompting.painted_mask(self.calls, session, value)

        return self._on_session(session, action)

    @page_handler
    def use_uploaded_mask(self, session: Optional[Session], path):
        if not path:
            return (*SKIP_VIEWER, session)

        def action(session: Session) -> FrameView:
            return prompting.mask_prompt(self.calls, session, mask_from_image(path, session.video.size))

        return self._on_session(session, action)

    @page_handler
    def find_text(self, session: Optional[Session], text, threshold):
        """-> viewer (the found boxes drawn), the offer (all checked), its button, session."""
        with _open(session).in_use():
            with session.view.choosing_frame():
                view, labels = finding.find(self.calls, session, text, threshold)
            return (*self._viewer(view), gr.update(choices=labels, value=labels, visible=True),
                    gr.update(visible=True), session)

    @page_handler
    def set_look_every(self, session: Optional[Session], every):
        """-> session: how often Track looks for the last Find's things again."""
        finding.set_look_every(_open(session), every)
        return session

    @page_handler
    def accept_found(self, session: Optional[Session], labels):
        """-> viewer, objects, the offer withdrawn, session."""
        with _open(session).in_use():
            with session.view.choosing_frame():
                view = finding.accept(self.calls, session, labels or [])
            return (*self._viewer(view), *_objects(session), *NO_FINDINGS, session)

    @page_handler
    def undo(self, session: Optional[Session]):
        return self._on_session(session, functools.partial(prompting.undo, self.calls))

    @page_handler
    def clear_object(self, session: Optional[Session]):
        return self._on_session(session, functools.partial(prompting.clear_object, self.calls))

    @page_handler
    def reset(self, session: Optional[Session]):
        """-> viewer, objects, the results emptied (``NO_RESULTS``), session."""
        *updates, session = self._on_session(session, functools.partial(roster.reset_all, self.calls), objects=True)
        return (*updates, *NO_RESULTS, session)

    @page_handler
    def add_object(self, session: Optional[Session]):
        return self._on_session(session, roster.add_object, objects=True)

    @page_handler
    def select_object(self, session: Optional[Session], label):
        if label is None:
            return (*SKIP_VIEWER, gr.skip(), gr.skip(), session)
        return self._on_session(session, lambda session: roster.select_object(session, label), objects=True)

    @page_handler
    def rename_object(self, session: Optional[Session], name):
        return self._on_session(session, lambda session: roster.rename_object(session, name), objects=True)

    @page_handler
    def remove_object(self, session: Optional[Session]):
        return self._on_session(session, functools.partial(roster.remove_object, self.calls), objects=True)

    def _switch(self, session: Optional[Session], model: ModelChoice):
        """-> viewer, model status, session: the open video (if any) goes on with ``model``, its
        prompts kept."""
        if session is None:
            return (*SKIP_VIEWER, self._status(model), None)
        with session.in_use():
            before = session.model
            view = opening.switch_model(self.calls, session, model)
            # Once per change: the size menu can send the same choice twice.
            if session.model != before and session.prompted_frames():
                changed = ("tracker" if replace(before, tracker=session.model.tracker) == session.model
                           else "model")
                gr.Info(f"The prompts were given to the new {changed}: press Track to track again.")
            return (*self._viewer(view), self._status(model, session), session)

    @page_handler
    def change_size(self, session: Optional[Session], model_id, image_size, tracker=None):
        """Another input size (same weights) for the open video."""
        return self._switch(session, self._model(model_id, image_size, tracker))

    @page_handler
    def change_tracker(self, session: Optional[Session], model_id, image_size, tracker):
        """Another tracker (same model and size) for the open video: its prompts are given to a
        fresh state with the new tracker's rules; what was tracked is to be tracked again."""
        return self._switch(session, self._model(model_id, image_size, tracker))

    def _announce_download(self, model_id: str) -> None:
        """A notice when loading ``model_id`` starts with a download (UserError if not offered)."""
        model = self.menu.model(model_id)
        if local_weights(model, self.calls.engines.settings) is None:
            gr.Info(f"Downloading the weights of {model.label} ({model.filename}): the first time can take minutes.")

    def _current_model(self, session: Optional[Session]) -> str:
        return session.model.model_id if session is not None else self.calls.engines.default_model_id

    @page_handler
    def change_model(self, session: Optional[Session], model_id, image_size, tracker=None):
        """-> viewer, model status, session, size choice, model choice: another model for the open video,
        at the same input size where the new model offers it (else at its default size). When
        the model cannot be had (e.g. its download failed) the page says why and stays on the
        model it had."""
        self._announce_download(model_id)
        settings = self.calls.engines.settings
        try:
            engine = self.calls.engine(ModelChoice(model_id))
        except UserError as error:
            gr.Warning(str(error))
            current = self._current_model(session)
            return (*SKIP_VIEWER, f"{error}\n\nStill on {self.menu.model(current).label}.", session, gr.skip(),
                    gr.update(value=current))
        sizes = offered_sizes(engine, settings) if self.menu.sizes_offered else []
        size = int(image_size) if image_size and int(image_size) in sizes else default_image_size(engine, settings)
        switched = self._switch(session, ModelChoice(model_id, size, self.menu.tracker(tracker)))
        return (*switched, gr.update(choices=sizes or [size], value=size, visible=len(sizes) > 1), gr.skip())

    @page_handler
    def track(self, session: Optional[Session]):
        """-> slider, frame view, timeline, object list, progress, overlay video, model status
        (with the speed once done), session; one update per frame. The overlay video grows
        while it tracks (where ffmpeg can stream it), then the finished file replaces it."""
        with _open(session).in_use():
            session.view.stop_play()  # Track shows the frames it tracks
            last = None
            for update in tracking.track(self.calls, session, stream=self.streams_overlay):
                # The first update empties the overlay video: a new one grows in its place.
                piece = str(update.piece) if update.piece else (None if last is None else gr.skip())
                last = update
                viewer = self._viewer(update.view) if update.view is not None else SKIP_VIEWER
                yield *viewer, update.text, piece, gr.skip(), session
            if session.closed:  # the tab went away while tracking: nobody waits for the video
                return
            if last is None:
                yield *SKIP_VIEWER, "Nothing to track.", gr.skip(), gr.skip(), session
                return
            stopped = "Stopped (what was tracked is kept)" if session.files.stop.requested else "Done"
            text = f"{stopped}: {last.done} of {plural(last.total, 'frame')} tracked in {opening.window_text(session)}."
            if last.found:
                text += f" Find by text added {plural(last.found, 'new object')} while tracking."
            if last.revised:
                text += (f" The best of the tracker's hypotheses over the whole run changed "
                         f"{plural(last.revised, 'frame')} at the end.")
            status = self._status(session.model, session)
            yield *SKIP_VIEWER, f"{text} Writing the overlay video...", gr.skip(), status, session
            video = tracking.overlay_video(session)
            finished = gr.update(value=gr.FileData(path=str(video), orig_name=video.name))
            yield *SKIP_VIEWER, f"{text} Overlay video ready.", finished, status, session

    def stop(self, session: Optional[Session]):
        if session is not None:
            tracking.request_stop(session)

    @page_handler
    def export(self, session: Optional[Session], extras, progress=gr.Progress()):
        """-> downloads, session: the standard exports and the extras asked for."""
        with _open(session).in_use():
            files = exporting.export_all(session, extras or (), lambda text: progress(None, desc=text)).as_list()
            return files, session

    @page_handler
    def compare(self, session: Optional[Session], label):
        """-> compare text, side-by-side video, IoU table, session; progress lines while it runs."""
        other = self.menu.compare_choice(label, _open(session).model)
        with session.in_use():
            self._announce_download(other.model_id)
            for item in compare(self.calls, session, other):
                if isinstance(item, Comparison):
                    table = gr.update(value=item.rows, headers=item.headers, visible=True)
                    yield item.text, str(item.video), table, session
                else:
                    yield item, gr.skip(), gr.skip(), session


@dataclass
class Wiring:
    """How events are connected: the queues (``heavy``: the model's; ``navigate``: frame changes,
    one at a time; ``shown``: beside them) and the component groups every event shares."""

    page: Page
    events: PageEvents
    shown: dict
    heavy: dict
    navigate: dict

    def on(self, listener, function, inputs, outputs, **options) -> None:
        """``function`` on the tab's session and ``inputs``, updating ``outputs`` and the session."""
        listener(function, [self.page.session, *inputs], [*outputs, self.page.session], **options)

    @property
    def viewer(self) -> list:
        page = self.page
        return [page.frame_slider, page.frame_view, page.timeline, page.object_list]

    @property
    def with_objects(self) -> list:
        return [*self.viewer, self.page.object_choice, self.page.object_name]

    @property
    def results(self) -> list:
        page = self.page
        return [page.progress, page.final_video, page.export_files, page.mask_editor, page.mask_upload,
                page.compare_text, page.compare_video, page.compare_table, page.found_choice, page.accept_button]


def wire(page: Page, events: PageEvents, output_root: Path) -> None:
    """Connect the page's events. Every event that runs the model shares one queue with the
    configured concurrency; the viewer, the frame number, the timeline and the object list are always
    outputs together. The tab's session is every event's first input and (but for Stop and the
    window unit) last output: given back, it lives ``session_ttl`` seconds more."""
    events.output_root = output_root
    # Progress and error badges go to the activity line, never over the viewer: a refused action
    # leaves the page as it was (its message is the toast).
    shown = dict(show_progress_on=page.activity)
    # Frame changes run one at a time, in the order they came: the last one asked is shown.
    wiring = Wiring(page, events, shown, dict(concurrency_id="model", concurrency_limit=events.limits.max_jobs, **shown),
                    dict(concurrency_id="navigate", concurrency_limit=1, **shown))
    _wire_video_and_viewer(wiring)
    _wire_prompts_and_objects(wiring)
    _wire_models_and_results(wiring)


def _wire_video_and_viewer(w: Wiring) -> None:
    page, events, viewer = w.page, w.events, w.viewer
    opened = [*viewer, page.info, page.window_start, page.window_end, page.object_choice, page.object_name, *w.results]
    w.on(page.video_in.change, events.open_video, [page.video_in, page.model_choice, page.size_choice,
                                                   page.window_unit, page.tracker_choice], opened,
         api_name="open_video", **w.heavy)
    w.on(page.window_button.click, events.set_window, [page.window_unit, page.window_start, page.window_end],
         [*viewer, page.info, page.window_start, page.window_end], api_name="set_window", **w.navigate)
    page.window_unit.input(events.window_unit, [page.session, page.window_unit], [page.window_start, page.window_end],
                           api_name=False, **w.shown)
    # Play and Pause run beside the queues (Play mostly waits for the next frame's time). Pause,
    # and anything else that shows a frame, stops a Play on the frame it showed last.
    w.on(page.play_button.click, events.play, [], viewer, api_name=False, concurrency_limit=None, **w.shown)
    w.on(page.pause_button.click, events.pause, [], viewer, api_name=False, concurrency_limit=None, **w.shown)
    w.on(page.frame_slider.input, events.show_frame, [page.frame_slider], viewer, api_name="show_frame",
         trigger_mode="always_last", **w.navigate)
    # Every press counts (Gradio's default drops presses while the last one is still answered).
    w.on(page.prev_button.click, events.previous_frame, [], viewer, api_name=False, trigger_mode="multiple",
         **w.navigate)
    w.on(page.next_button.click, events.next_frame, [], viewer, api_name=False, trigger_mode="multiple", **w.navigate)
    w.on(page.timeline.select, events.timeline_click, [], viewer, api_name=False, **w.navigate)


def _wire_prompts_and_objects(w: Wiring) -> None:
    page, events, viewer, with_objects = w.page, w.events, w.viewer, w.with_objects
    w.on(page.frame_view.select, events.click, [page.mode], viewer, api_name=False, **w.heavy)
    w.on(page.api_click.click, events.api_click, [page.frame_slider, page.mode, page.click_x, page.click_y], viewer,
         api_name="click", **w.heavy)
    w.on(page.paint_button.click, events.paint_frame, [], [page.mask_editor], api_name=False, **w.shown)
    w.on(page.use_painted_button.click, events.use_painted_mask, [page.mask_editor], viewer, api_name=False,
         **w.heavy)
    w.on(page.mask_upload.upload, events.use_uploaded_mask, [page.mask_upload], viewer, api_name="mask_prompt",
         **w.heavy)
    w.on(page.undo_button.click, events.undo, [], viewer, api_name="undo", **w.heavy)
    w.on(page.clear_button.click, events.clear_object, [], viewer, api_name="clear_object", **w.heavy)
    w.on(page.reset_button.click, events.reset, [], [*with_objects, *w.results], api_name="reset", **w.heavy)
    w.on(page.add_button.click, events.add_object, [], with_objects, api_name="add_object", **w.shown)
    w.on(page.object_choice.input, events.select_object, [page.object_choice], with_objects,
         api_name="select_object", **w.shown)
    w.on(page.object_name.submit, events.rename_object, [page.object_name], with_objects, api_name="rename_object",
         **w.shown)
    w.on(page.remove_button.click, events.remove_object, [], with_objects, api_name="remove_object", **w.heavy)
    found = [page.found_choice, page.accept_button]
    w.on(page.find_button.click, events.find_text, [page.find_text, page.find_threshold], [*viewer, *found],
         api_name="find_text", **w.heavy)
    w.on(page.find_text.submit, events.find_text, [page.find_text, page.find_threshold], [*viewer, *found],
         api_name=False, **w.heavy)
    w.on(page.accept_button.click, events.accept_found, [page.found_choice], [*with_objects, *found],
         api_name="accept_found", **w.heavy)
    w.on(page.find_every.input, events.set_look_every, [page.find_every], [], api_name="look_again_every", **w.shown)


def _wire_models_and_results(w: Wiring) -> None:
    page, events = w.page, w.events
    switched = [*w.viewer, page.model_status]
    w.on(page.size_choice.input, events.change_size, [page.model_choice, page.size_choice, page.tracker_choice],
         switched, api_name="change_size", **w.heavy)
    w.on(page.tracker_choice.input, events.change_tracker, [page.model_choice, page.size_choice, page.tracker_choice],
         switched, api_name="change_tracker", **w.heavy)
    w.on(page.track_button.click, events.track, [], [*w.viewer, page.progress, page.final_video, page.model_status],
         api_name="track", **w.heavy)
    page.stop_button.click(events.stop, page.session, None, api_name="stop", queue=False)
    w.on(page.export_button.click, events.export, [page.export_extras], [page.export_files], api_name="export",
         **w.heavy)
    w.on(page.compare_button.click, events.compare, [page.compare_choice],
         [page.compare_text, page.compare_video, page.compare_table], api_name="compare", **w.heavy)
    page.model_choice.input(events.change_model, [page.session, page.model_choice, page.size_choice,
                                                  page.tracker_choice],
                            [*switched, page.session, page.size_choice, page.model_choice], api_name="change_model",
                            **w.heavy)
