"""The page's components and their layout (what happens on events is in events.py)."""

from dataclasses import dataclass, field
from typing import List, Optional, Tuple

import gradio as gr

from sam2.frames.source import VIDEO_EXTENSIONS

from ..actions.exporting import EXTRAS
from ..actions.prompting import BOX, EXCLUDE, INCLUDE
from ..sessions.session import ObjectRoster, close_session
from ..sessions.window import FRAMES, SECONDS

MODE_LABELS = {"Include (green)": INCLUDE, "Exclude (red)": EXCLUDE, "Box (two corners)": BOX}

# A tall video (a phone held upright, 64x1024) is drawn within the screen's height, whole; Gradio
# maps a click on the shrunk image back to the frame's pixels.
PAGE_CSS = """
#frame-view img { max-height: 72vh; width: auto; max-width: 100%; }
"""

FIND_NOTE = "Phrases separated by commas; the boxes found on the shown frame are offered to keep or drop."
FIND_THRESHOLD = 0.3

INTRO = """## SAM 2 video tracker
**1.** Upload a video or pick an example. **2.** Click the object (green includes, red excludes;
or a box, or a mask). **3.** Press **Track**. Correct any frame and track again; download the results."""


@dataclass(frozen=True)
class PageOptions:
    """What the page offers: the models ((label, id) pairs), the input sizes (empty: not a
    choice here), the Compare choices and examples."""

    model_note: str
    models: List[Tuple[str, str]]
    default_model: Optional[str]
    sizes: List[int]
    default_size: int
    compare_choices: List[str]
    default_compare: Optional[str]
    examples: List[str]
    # Seconds a tab's session lives after its last request (Gradio's State time_to_live).
    session_ttl: float = 3600
    # (title, name) of each tracker; the first is the default.
    trackers: List[Tuple[str, str]] = field(default_factory=lambda: [("SAM 2", "sam2")])
    # Under "Find by text": how to use it, or how to install what it needs.
    find_note: str = FIND_NOTE


@dataclass
class Page:
    """Every component that an event reads or writes. ``session``: the tab's Session (None
    before a video is opened), held by Gradio per tab; closed when it expires or is replaced."""

    model_status: gr.Markdown
    video_in: gr.File
    info: gr.Markdown
    window_unit: gr.Radio
    window_start: gr.Number
    window_end: gr.Number
    window_button: gr.Button
    frame_view: gr.Image
    prev_button: gr.Button
    frame_slider: gr.Slider
    next_button: gr.Button
    play_button: gr.Button
    pause_button: gr.Button
    object_list: gr.HTML
    timeline: gr.Image
    activity: gr.Markdown
    mode: gr.Radio
    undo_button: gr.Button
    clear_button: gr.Button
    reset_button: gr.Button
    object_choice: gr.Dropdown
    object_name: gr.Textbox
    add_button: gr.Button
    remove_button: gr.Button
    mask_editor: gr.ImageEditor
    paint_button: gr.Button
    use_painted_button: gr.Button
    mask_upload: gr.File
    find_text: gr.Textbox
    find_threshold: gr.Slider
    find_button: gr.Button
    find_every: gr.Number
    found_choice: gr.CheckboxGroup
    accept_button: gr.Button
    model_choice: gr.Dropdown
    size_choice: gr.Dropdown
    tracker_choice: gr.Dropdown
    track_button: gr.Button
    stop_button: gr.Button
    progress: gr.Markdown
    final_video: gr.Video
    export_extras: gr.CheckboxGroup
    export_button: gr.Button
    export_files: gr.File
    compare_choice: gr.Dropdown
    compare_button: gr.Button
    compare_text: gr.Markdown
    compare_video: gr.Video
    compare_table: gr.Dataframe
    click_x: gr.Number
    click_y: gr.Number
    api_click: gr.Button
    session: gr.State


def _video(options: PageOptions) -> dict:
    with gr.Row(equal_height=True):
        video_in = gr.File(label="Video", file_types=list(VIDEO_EXTENSIONS), file_count="single", height=90,
                           scale=3, elem_id="video-input")
        if options.examples:
            with gr.Column(scale=1, min_width=160):
                gr.Examples(options.examples, inputs=video_in, label="Examples")
    info = gr.Markdown("No video loaded.", elem_id="video-info")
    return dict(video_in=video_in, info=info)


def _window() -> dict:
    """Which frames of a long video to work on (beside the Track button: not above the viewer)."""
    with gr.Row():
        window_unit = gr.Radio([SECONDS, FRAMES], value=SECONDS, label="Window in", min_width=120, elem_id="window-unit")
        window_start = gr.Number(0, label="From", minimum=0, min_width=80, elem_id="window-start")
        window_end = gr.Number(0, label="To", minimum=0, min_width=80, elem_id="window-end")
        window_button = gr.Button("Set window", size="sm", scale=0, min_width=100, elem_id="set-window")
    return dict(window_unit=window_unit, window_start=window_start, window_end=window_end,
                window_button=window_button)


def _viewer() -> dict:
    frame_view = gr.Image(label="Click the object", type="numpy", interactive=False, elem_id="frame-view")
    with gr.Row():
        prev_button = gr.Button("◀ Prev", size="sm", elem_id="prev-frame")
        frame_slider = gr.Slider(0, 1, value=0, step=1, label="Frame", elem_id="frame-slider")
        next_button = gr.Button("Next ▶", size="sm", elem_id="next-frame")
        with gr.Column(min_width=80, scale=0):
            play_button = gr.Button("▶ Play", size="sm", variant="primary", elem_id="play")
            pause_button = gr.Button("❚❚ Pause", size="sm", elem_id="pause")
    # The timeline's rows, named: same order and colours (the timeline itself has no labels, so
    # every point of it is a frame to click).
    object_list = gr.HTML("", container=False, elem_id="object-list")
    timeline = gr.Image(label="Where each object is (click to go there)", show_label=False, container=False,
                        type="numpy", interactive=False, buttons=[], elem_id="timeline")
    # Every event shows its spinner (and, if refused, Gradio's error badge) on this line only:
    # the viewer and the rest keep what they show, and a click on the frame still lands.
    activity = gr.Markdown("", min_height=28, elem_id="activity")
    return dict(frame_view=frame_view, prev_button=prev_button, frame_slider=frame_slider, next_button=next_button,
                play_button=play_button, pause_button=pause_button, object_list=object_list, timeline=timeline,
                activity=activity)


def _find_by_text(options: PageOptions) -> dict:
    """Type what to find; the boxes found on the shown frame are offered; the kept ones become
    objects named by their phrases."""
    with gr.Accordion("Find by text: name the objects instead of clicking them", open=True, elem_id="find"):
        with gr.Row(equal_height=True):
            find_text = gr.Textbox(label="Find by text", placeholder="e.g. dog, ball", info=options.find_note,
                                   scale=3, elem_id="find-text")
            find_threshold = gr.Slider(0.05, 0.95, value=FIND_THRESHOLD, step=0.05, label="Least score",
                                       scale=1, min_width=140, elem_id="find-threshold")
            find_button = gr.Button("Find", size="sm", scale=0, min_width=80, elem_id="find-button")
        find_every = gr.Number(0, precision=0, minimum=0, label="While tracking, look again every N frames "
                               "(0: off): things no object covers become new objects", elem_id="find-every")
        found_choice = gr.CheckboxGroup([], label="Found on this frame: uncheck the ones to drop", visible=False,
                                        elem_id="found-choice")
        accept_button = gr.Button("Add the checked as objects", size="sm", variant="primary", visible=False,
                                  elem_id="accept-found")
    return dict(find_text=find_text, find_threshold=find_threshold, find_button=find_button, find_every=find_every,
                found_choice=found_choice, accept_button=accept_button)


def _prompts_and_objects() -> dict:
    mode = gr.Radio(list(MODE_LABELS), value="Include (green)", label="Click adds", elem_id="click-mode")
    with gr.Row():
        undo_button = gr.Button("Undo last point", size="sm", elem_id="undo")
        clear_button = gr.Button("Clear object", size="sm", elem_id="clear-object")
        reset_button = gr.Button("Reset all", size="sm", elem_id="reset")
    with gr.Row(equal_height=True):
        first = ObjectRoster()
        object_choice = gr.Dropdown(first.labels(), value=first.label(first.current), label="Object",
                                    elem_id="object-choice")
        object_name = gr.Textbox(label="Name (Enter to set)", placeholder="e.g. dog", max_length=40,
                                 elem_id="object-name")
        with gr.Column(scale=0, min_width=130):  # two small buttons, one above the other
            add_button = gr.Button("Add object", size="sm", elem_id="add-object")
            remove_button = gr.Button("Remove object", size="sm", elem_id="remove-object")
    with gr.Accordion("Mask prompt: paint or upload the object's mask on the shown frame", open=False,
                      elem_id="mask-prompt"):
        mask_editor = gr.ImageEditor(label="Paint over the object", type="numpy", image_mode="RGBA",
                                     sources=[], elem_id="mask-editor")
        with gr.Row():
            paint_button = gr.Button("Paint on the shown frame", size="sm", elem_id="paint-frame")
            use_painted_button = gr.Button("Use the painted mask", size="sm", variant="primary",
                                           elem_id="use-painted")
        mask_upload = gr.File(label="...or upload a mask image (white object on black, PNG)",
                              file_types=["image"], height=90, elem_id="mask-upload")
    return dict(mode=mode, undo_button=undo_button, clear_button=clear_button, reset_button=reset_button,
                object_choice=object_choice, object_name=object_name, add_button=add_button,
                remove_button=remove_button, mask_editor=mask_editor, paint_button=paint_button,
                use_painted_button=use_painted_button, mask_upload=mask_upload)


def _results(options: PageOptions) -> dict:
    with gr.Row():
        model_choice = gr.Dropdown(options.models, value=options.default_model, label="Model",
                                   visible=len(options.models) > 1, elem_id="model-choice")
        size_choice = gr.Dropdown(options.sizes or [options.default_size], value=options.default_size,
                                  label="Input size (smaller: faster, coarser)", visible=len(options.sizes) > 1,
                                  elem_id="size-choice")
        tracker_choice = gr.Dropdown(options.trackers, value=options.trackers[0][1], label="Tracker",
                                     info="SAMURAI: motion-aware; DAM4SAM: remembers look-alikes; SAM2Long: 3 hypotheses, "
                                          "best path at the end (same weights)",
                                     elem_id="tracker-choice")
    with gr.Row():
        track_button = gr.Button("Track", variant="primary", elem_id="track")
        stop_button = gr.Button("Stop", variant="stop", elem_id="stop")
    progress = gr.Markdown("", elem_id="progress")
    window = _window()
    # It grows while Track runs (pieces streamed, played as they come); the finished file
    # (with the upload's sound) replaces the stream when Track ends.
    final_video = gr.Video(label="Overlay video", interactive=False, streaming=True, autoplay=True,
                           elem_id="overlay-video")
    export_extras = gr.CheckboxGroup(list(EXTRAS), value=[], label="Also export (per object; slower)",
                                     elem_id="export-extras")
    export_button = gr.Button("Export masks", elem_id="export")
    export_files = gr.File(label="Downloads", file_count="multiple", interactive=False, elem_id="downloads")
    with gr.Accordion("Compare models or trackers", open=False, visible=bool(options.compare_choices),
                      elem_id="compare"):
        compare_choice = gr.Dropdown(options.compare_choices, value=options.default_compare,
                                     label="Compare with", elem_id="compare-choice")
        compare_button = gr.Button("Compare (same prompts, same window)", elem_id="compare-button")
        compare_text = gr.Markdown("", elem_id="compare-text")
        # No label over the video: it would hide the left half's legend.
        compare_video = gr.Video(label="Side by side", show_label=False, interactive=False, elem_id="compare-video")
        # Shown once there is a comparison (an emptied table kept its old rows on the page).
        compare_table = gr.Dataframe(label="IoU per object and frame", interactive=False, visible=False,
                                     elem_id="compare-table")
    return dict(**window, model_choice=model_choice, size_choice=size_choice, tracker_choice=tracker_choice,
                track_button=track_button,
                stop_button=stop_button, progress=progress, final_video=final_video, export_extras=export_extras,
                export_button=export_button,
                export_files=export_files, compare_choice=compare_choice, compare_button=compare_button,
                compare_text=compare_text, compare_video=compare_video, compare_table=compare_table)


def build_page(options: PageOptions) -> Page:
    """Lay out the page inside the open ``gr.Blocks``."""
    gr.Markdown(INTRO)
    model_status = gr.Markdown(options.model_note, elem_id="model-status")
    with gr.Row():
        with gr.Column(scale=3):
            parts = _video(options)
            parts.update(_viewer())
            parts.update(_prompts_and_objects())
            parts.update(_find_by_text(options))
        with gr.Column(scale=2):
            parts.update(_results(options))
    with gr.Row(visible=False):  # the click as an API call (x, y in video pixels), for scripts
        click_x, click_y = gr.Number(label="x"), gr.Number(label="y")
        api_click = gr.Button("click")
    session = gr.State(None, time_to_live=options.session_ttl, delete_callback=close_session)
    return Page(model_status=model_status, **parts, click_x=click_x, click_y=click_y, api_click=api_click,
                session=session)
