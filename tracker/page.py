"""The page's components and their layout (what happens on events is in events.py)."""

from dataclasses import dataclass
from typing import List

import gradio as gr

from .handlers import BOX, EXCLUDE, INCLUDE

MODE_LABELS = {"Include (green)": INCLUDE, "Exclude (red)": EXCLUDE, "Box (two corners)": BOX}

INTRO = """# SAM 2 video tracker
1. Upload a video (or pick an example). 2. Click the object on any frame (green = include,
red = exclude, or draw a box). 3. Press **Track** and watch the masks appear. Correct any frame
with more clicks and track again; add objects; download the results."""


@dataclass
class Page:
    """Every component that an event reads or writes."""

    video_in: gr.Video
    info: gr.Markdown
    frame_view: gr.Image
    prev_button: gr.Button
    frame_slider: gr.Slider
    next_button: gr.Button
    mode: gr.Radio
    undo_button: gr.Button
    clear_button: gr.Button
    reset_button: gr.Button
    object_choice: gr.Dropdown
    add_button: gr.Button
    remove_button: gr.Button
    model_choice: gr.Dropdown
    track_button: gr.Button
    stop_button: gr.Button
    progress: gr.Markdown
    stream: gr.Video
    final_video: gr.Video
    export_button: gr.Button
    export_files: gr.File
    click_x: gr.Number
    click_y: gr.Number
    api_click: gr.Button


def build_page(model_note: str, models: List[str], default_model: str, examples: List[str],
               can_stream: bool) -> Page:
    """Lay out the page inside the open ``gr.Blocks``."""
    gr.Markdown(INTRO)
    gr.Markdown(model_note, elem_id="model-status")
    with gr.Row():
        with gr.Column(scale=3):
            video_in = gr.Video(label="Video", sources=["upload"], elem_id="video-input")
            if examples:
                gr.Examples(examples, inputs=video_in, label="Examples (made by assets/make_examples.py)")
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
            model_choice = gr.Dropdown(models, value=default_model, label="Model", visible=len(models) > 1)
        with gr.Column(scale=3):
            with gr.Row():
                track_button = gr.Button("Track", variant="primary", elem_id="track")
                stop_button = gr.Button("Stop", variant="stop", elem_id="stop")
            progress = gr.Markdown("", elem_id="progress")
            stream = gr.Video(label="Tracking (live)", streaming=True, autoplay=True, interactive=False,
                              elem_id="stream", visible=can_stream)
            final_video = gr.Video(label="Overlay video", interactive=False, elem_id="overlay-video")
            export_button = gr.Button("Export masks", elem_id="export")
            export_files = gr.File(label="Downloads", file_count="multiple", interactive=False, elem_id="downloads")
    with gr.Row(visible=False):  # the click as an API call (x, y in video pixels), for scripts
        click_x, click_y = gr.Number(label="x"), gr.Number(label="y")
        api_click = gr.Button("click")
    return Page(video_in, info, frame_view, prev_button, frame_slider, next_button, mode, undo_button, clear_button,
                reset_button, object_choice, add_button, remove_button, model_choice, track_button, stop_button,
                progress, stream, final_video, export_button, export_files, click_x, click_y, api_click)
