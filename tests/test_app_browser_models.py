"""Models in headless Chromium: a user picks EdgeTAM in the menu, clicks, tracks, and compares
it with SAM 2.1 on the same prompts; the page names the model and each one's speed.
With SAM2_SCREENSHOT_DIR set, screenshots of the page (1280x720) after Track and after
Compare are saved there."""

import os
import re
from pathlib import Path

import numpy as np

from app_server import family_weights, running_app  # noqa: F401
from browser import click_frame, page, track_and_watch, wait_text  # noqa: F401
from conftest import CPU_PRECISION
from tracker.media.video_io import write_mp4

SPEED = r"\d+(\.\d+)? s per frame"


def square_clip(path: Path, frames: int = 6) -> str:
    """A bright square moving right over a textured background (160x120)."""
    rng = np.random.default_rng(1)
    background = rng.integers(0, 90, size=(120, 160, 3), dtype=np.uint8)
    pictures = []
    for index in range(frames):
        picture = background.copy()
        picture[40:76, 30 + 6 * index:66 + 6 * index] = (230, 200, 40)
        pictures.append(picture)
    return str(write_mp4(path, pictures, fps=5))


def choose(page, dropdown: str, label: str) -> None:
    """Pick ``label`` in a dropdown, as a user does: open the list, click the option."""
    page.click(f"{dropdown} input")
    page.locator("ul[role='listbox'] li", has_text=label).first.click()


def screenshot(page, name: str) -> None:
    folder = os.environ.get("SAM2_SCREENSHOT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / name))


def test_pick_edgetam_track_and_compare_with_sam21_with_speeds(page, family_weights, tmp_path):  # noqa: F811
    env = {"SAM2_CHECKPOINTS_DIR": str(family_weights), "SAM2_MODEL": "facebook/sam2.1-hiera-tiny",
           "SAM2_IMAGE_SIZE": "256"}
    page.set_viewport_size({"width": 1280, "height": 720})
    with running_app(tmp_path, extra_env=env, with_weights=False) as url:
        page.goto(url, wait_until="domcontentloaded")
        page.wait_for_selector("#model-status")
        wait_text(page, "#model-status", "SAM 2.1 tiny at 256 px")
        choose(page, "#model-choice", "EdgeTAM (fast on CPUs)")
        wait_text(page, "#model-status", "EdgeTAM (fast on CPUs) at 256 px")
        page.set_input_files("#video-input input[type=file]", square_clip(tmp_path / "square.mp4"))
        wait_text(page, "#video-info", "6 frames")
        page.wait_for_selector("#frame-view img")
        click_frame(page, 0.3, 0.5)
        track_and_watch(page)
        status = page.locator("#model-status").inner_text()
        assert re.fullmatch(rf"Model: EdgeTAM \(fast on CPUs\) at 256 px on cpu \({CPU_PRECISION}\), tracker: SAM 2, last Track {SPEED}\.",
                            status.strip()), status
        page.evaluate("() => window.scrollTo(0, 0)")
        screenshot(page, "after-track.png")

        page.click("#compare")
        choose(page, "#compare-choice", "SAM 2.1 tiny")
        page.click("#compare-button")
        wait_text(page, "#compare-text", "mean IoU per object")
        text = page.locator("#compare-text").inner_text()
        assert "EdgeTAM (fast on CPUs) at 256 px vs SAM 2.1 tiny at 256 px" in text, text
        assert re.search(rf"EdgeTAM \(fast on CPUs\) at 256 px: {SPEED} \(its last Track\)", text), text
        assert re.search(rf"SAM 2.1 tiny at 256 px: {SPEED} \(this comparison\)", text), text
        page.wait_for_function("() => { const v = document.querySelector('#compare-video video');"
                               " return v && v.readyState >= 1; }")
        page.evaluate("() => document.querySelector('#compare').scrollIntoView({block: 'start'})")
        screenshot(page, "after-compare.png")
