"""The editor in headless Chromium: a 60-second video opens whole, the window 20-25 s is
tracked with a named clicked object and a named mask-prompted one, the timeline takes the
viewer to a frame, the exports (with cut-outs, mattes and a blurred background) carry source
frame numbers, times and names, and Compare shows both models' overlays and the IoU table."""

import io
import json
import zipfile

import numpy as np
import pytest
from PIL import Image

from app_server import running_app
from browser import (SLIDER_NUMBER, click_frame, download, go_to_frame, name_object, page,  # noqa: F401
                     track_and_watch, wait_for_notice, wait_text, wait_value)
from sam2.frames.opening import open_frame_source
from sam2.assembly.random_weights import save_random_checkpoint
from tracker.media.timeline import frame_at
from tracker.media.video_io import write_mp4

FPS, SECONDS, HEIGHT, WIDTH = 5, 60, 120, 160
TOP, SIDE = 40, 24


def square_left(frame_idx: int) -> int:
    return 8 + (3 * frame_idx) % 120


def square_frames() -> list:
    """A bright square sliding right (and around again) over a textured background."""
    rng = np.random.default_rng(0)
    background = rng.integers(0, 80, size=(HEIGHT, WIDTH, 3), dtype=np.uint8)
    frames = []
    for frame_idx in range(FPS * SECONDS):
        frame = background.copy()
        left = square_left(frame_idx)
        frame[TOP:TOP + SIDE, left:left + SIDE] = (230, 200, 40)
        frames.append(frame)
    return frames


def square_mask_png(frame_idx: int, path) -> str:
    mask = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)
    left = square_left(frame_idx)
    mask[TOP:TOP + SIDE, left:left + SIDE] = 255
    Image.fromarray(mask).save(path)
    return str(path)


@pytest.fixture()
def two_models(tmp_path):
    """The app with the tiny test model and, in its checkpoints folder, random SAM 2.0 tiny
    weights: two models to compare (SAM 2 at 256 px, so that it is quick; the tiny one at its own 128)."""
    checkpoints = tmp_path / "checkpoints"
    save_random_checkpoint("sam2_hiera_t", str(checkpoints / "sam2_hiera_tiny.pt"))
    env = {"SAM2_MAX_FRAMES": "50", "SAM2_CHECKPOINTS_DIR": str(checkpoints), "SAM2_IMAGE_SIZE": "256"}
    with running_app(tmp_path, extra_env=env) as url:
        yield url


def test_a_window_of_a_long_video_named_objects_a_mask_prompt_the_timeline_and_compare(page, two_models, tmp_path):
    video = write_mp4(tmp_path / "long.mp4", square_frames(), fps=FPS)
    page.goto(two_models, wait_until="domcontentloaded")
    page.set_input_files("#video-input input[type=file]", str(video))
    wait_text(page, "#video-info", "300 frames")
    wait_text(page, "#video-info", "60.0 s")
    wait_text(page, "#video-info", "Working on frames 0-49")

    page.fill("#window-start input", "20")
    page.fill("#window-end input", "25")
    page.click("#set-window")
    wait_text(page, "#video-info", "Working on frames 100-124 (20.0-25.0 s)")
    wait_value(page, SLIDER_NUMBER, "100")

    name_object(page, "square", "1: square")
    click_frame(page, (square_left(100) + SIDE / 2) / WIDTH, (TOP + SIDE / 2) / HEIGHT)
    page.click("#add-object")
    wait_value(page, "#object-choice input", "2: object 2")
    name_object(page, "patch", "2: patch")
    go_to_frame(page, 110)
    page.click("#mask-prompt")
    before = page.locator("#frame-view img").get_attribute("src")
    page.set_input_files("#mask-upload input[type=file]", square_mask_png(110, tmp_path / "mask.png"))
    page.wait_for_function("b => document.querySelector('#frame-view img').getAttribute('src') !== b", arg=before)

    progress = track_and_watch(page)
    # Forward through the window's 25 frames, then back from the mask prompt's frame 110 to 100: each counted once.
    assert any("of 25 frames" in line and "left" in line for line in progress), progress
    wait_text(page, "#progress", "Done: 25 of 25 frames tracked in frames 100-124 (20.0-25.0 s)")

    timeline = page.locator("#timeline img")
    box = timeline.bounding_box()
    natural_width = page.evaluate("() => document.querySelector('#timeline img').naturalWidth")
    x = next(x for x in range(natural_width) if frame_at(x, 100, 124, natural_width) == 115)
    timeline.click(position={"x": (x + 0.5) * box["width"] / natural_width, "y": box["height"] / 3})
    wait_value(page, SLIDER_NUMBER, "115")

    for extra in ("cut-outs", "mattes", "blurred background"):
        page.get_by_label(extra).check()
    page.click("#export")
    page.wait_for_function("() => document.querySelectorAll('#downloads a').length >= 11")
    files = {}
    for link in page.eval_on_selector_all("#downloads a", "els => els.map(e => e.href)"):
        name = link.split("?")[0].rsplit("/", 1)[-1]
        files[name] = download(link, tmp_path / name)
    stem = "long_f100-124"
    per_object = [f"{stem}_{obj}_{kind}" for obj in ("1_square", "2_patch")
                  for kind in ("cutout.webm", "cutout.zip", "matte.mp4")]
    assert sorted(files) == sorted([f"{stem}_coco_rle.json", f"{stem}_davis.zip", f"{stem}_masks.zip",
                                    f"{stem}_overlay.mp4", *per_object, f"{stem}_blurred_background.mp4"])
    for name in (f"{stem}_overlay.mp4", f"{stem}_1_square_matte.mp4", f"{stem}_blurred_background.mp4"):
        assert open_frame_source(files[name]).num_frames == 25, name
    coco = json.loads(open(files[f"{stem}_coco_rle.json"]).read())
    assert [(i["frame_index"], i["timestamp"]) for i in coco["images"]] == \
        [(f, pytest.approx(f / FPS)) for f in range(100, 125)]
    assert [c["name"] for c in coco["categories"]] == ["square", "patch"]
    patch = [a for a in coco["annotations"] if a["object_id"] == 2]
    assert len(patch) == 25 and sum(a["area"] > 0 for a in patch) >= 20, "the mask prompt was tracked"
    with zipfile.ZipFile(files[f"{stem}_masks.zip"]) as pngs:
        assert sorted({n.split("/")[0] for n in pngs.namelist()}) == ["1_square", "2_patch"]
        assert sorted(n.split("/")[1] for n in pngs.namelist() if n.startswith("2_")) == \
            [f"{f:05d}.png" for f in range(100, 125)]

    page.click("#compare")
    page.click("#compare-button")
    wait_text(page, "#compare-text", "mean IoU per object")
    compare_text = page.locator("#compare-text").inner_text()
    assert "test_tiny.pt (test_tiny) vs SAM 2 tiny at 256 px" in compare_text, compare_text
    assert "SAM 2 tiny at 256 px: " in compare_text and "s per frame (this comparison)" in compare_text
    page.wait_for_selector("#compare-video video")
    assert page.get_attribute("#compare-table [role=grid]", "aria-rowcount") == "27", "a header, the mean, 25 frames"
    headers = page.eval_on_selector_all("#compare-table th[title]", "cells => cells.map(c => c.title)")
    assert headers == ["frame", "1: square", "2: patch"], headers
    # The table draws the rows in view (a virtual list): its size, header and first row are read.
    cells = page.eval_on_selector_all("#compare-table td", "cells => cells.map(c => c.textContent.trim())")
    assert cells[0] == "mean" and all(0 <= float(value) <= 1 for value in cells[1:3]), cells
    side_by_side = page.evaluate("() => document.querySelector('#compare-video video').src")
    frames = open_frame_source(download(side_by_side, tmp_path / "compare.mp4"))
    assert frames.num_frames == 25 and frames.video_width == 2 * 480, "small videos are scaled up to fit the names"

    # Another video: nothing of the last one's work is left on the page.
    page.locator("#video-input button[aria-label='Clear']").click()
    page.set_input_files("#video-input input[type=file]", str(write_mp4(tmp_path / "next.mp4", square_frames()[:6],
                                                                        fps=FPS)))
    wait_text(page, "#video-info", "next.mp4")
    assert left_over(page) == {}


def left_over(page) -> dict:
    """What the page still shows of earlier work: results, the uploaded mask, Compare's output
    (the parts of the page that are not rendered show nothing)."""
    return {name: found for name, found in page.evaluate("""() => ({
        progress: document.querySelector('#progress').innerText.trim(),
        overlay: !!document.querySelector('#overlay-video video'),
        downloads: document.querySelectorAll('#downloads a').length,
        uploaded_mask: !!document.querySelector('#mask-upload')?.innerText.includes('.png'),
        compare_text: document.querySelector('#compare-text')?.innerText.trim() || '',
        compare_video: !!document.querySelector('#compare-video video'),
        compare_cells: [...document.querySelectorAll('#compare-table td')].map(td => td.textContent.trim()).filter(t => t).join('|'),
    })""").items() if found}


def picture(locator) -> np.ndarray:
    return np.array(Image.open(io.BytesIO(locator.screenshot())).convert("RGB"), dtype=np.float32)


def wait_until_changed(page, locator, before: np.ndarray, timeout: float = 60.0) -> None:
    """Wait until ``locator`` looks different from ``before`` (a picture was drawn in it)."""
    deadline = page.evaluate("() => Date.now()") + timeout * 1000
    while True:
        now = picture(locator)
        if now.shape != before.shape or np.abs(now - before).mean() > 5:
            return
        if page.evaluate("() => Date.now()") > deadline:
            raise AssertionError("nothing new was drawn")
        page.wait_for_timeout(250)


def test_a_painted_mask_is_the_objects_prompt(page, tmp_path):
    """Paint on the shown frame with the editor's brush, use it: the viewer shows the object's
    mask there (no error), and Track follows it."""
    video = write_mp4(tmp_path / "short.mp4", square_frames()[:8], fps=FPS)
    with running_app(tmp_path) as url:
        page.goto(url, wait_until="domcontentloaded")
        page.set_input_files("#video-input input[type=file]", str(video))
        wait_text(page, "#video-info", "8 frames")
        plain = page.locator("#frame-view img").get_attribute("src")
        page.click("#mask-prompt")
        canvas = page.locator("#mask-editor canvas").first
        empty = picture(canvas)
        page.click("#paint-frame")
        wait_until_changed(page, canvas, empty)  # the frame is on the canvas: paint over it, as a person would
        page.click("#mask-editor button[aria-label='Brush']")
        box = canvas.bounding_box()
        x0, y0 = box["x"] + box["width"] * 0.4, box["y"] + box["height"] * 0.5
        page.mouse.move(x0, y0)
        page.mouse.down()
        for step in range(15):
            page.mouse.move(x0 + 3 * step, y0 + (step % 4) * 3)
        page.mouse.up()
        page.click("#use-painted")
        page.wait_for_function("b => document.querySelector('#frame-view img').getAttribute('src') !== b"
                               " || document.querySelector(\"[data-testid='toast-text']\")", arg=plain)
        assert not page.eval_on_selector_all("[data-testid='toast-text']", "els => els.map(e => e.innerText)")
        track_and_watch(page)
        wait_text(page, "#progress", "Done: 8 of 8 frames tracked")

        # Another video: the editor is empty and the old strokes cannot be used on it.
        page.locator("#video-input button[aria-label='Clear']").click()
        page.set_input_files("#video-input input[type=file]", str(write_mp4(tmp_path / "next.mp4",
                                                                            square_frames()[8:14], fps=FPS)))
        wait_text(page, "#video-info", "next.mp4")
        assert left_over(page) == {}
        assert np.abs(picture(canvas) - empty).mean() < 5, "the old frame and strokes are gone from the editor"
        page.click("#use-painted")
        wait_for_notice(page, "Press 'Paint on the shown frame' first")

        # Reset all empties the results too.
        click_frame(page, 0.5, 0.5)
        track_and_watch(page)
        page.click("#reset")
        page.wait_for_function("() => !document.querySelector('#overlay-video video')")
        assert left_over(page) == {}
