"""Trackers in headless Chromium: the same video tracked with SAM 2, compared side by side
with SAMURAI on the same prompts, then tracked with SAMURAI and exported: the page names the
tracker and the downloads carry its name. With SAM2_SCREENSHOT_DIR set, screenshots (1280x720)
after the comparison and after the SAMURAI export are saved there; a SAM2Long session is
tracked from the same menu."""

import re
from contextlib import contextmanager
from pathlib import Path

from app_server import running_app
from browser import click_frame, page, track_and_watch, wait_for_notice as wait_notice, wait_text  # noqa: F401
from test_app_browser_models import choose, screenshot, square_clip


@contextmanager
def opened_square_clip(page, tmp_path):  # noqa: F811
    """The app at 1280x720 with an 8-frame clip of a square uploaded."""
    page.set_viewport_size({"width": 1280, "height": 720})
    with running_app(tmp_path) as url:
        page.goto(url, wait_until="domcontentloaded")
        page.wait_for_selector("#tracker-choice")
        page.set_input_files("#video-input input[type=file]", square_clip(tmp_path / "square.mp4", frames=8))
        wait_text(page, "#video-info", "8 frames")
        page.wait_for_selector("#frame-view img")
        yield


def test_track_with_sam2_compare_with_samurai_then_export_samurai(page, tmp_path):  # noqa: F811
    with opened_square_clip(page, tmp_path):
        click_frame(page, 0.3, 0.5)
        track_and_watch(page)
        wait_text(page, "#model-status", "tracker: SAM 2, last Track")

        page.click("#compare")
        choose(page, "#compare-choice", "SAMURAI tracker (same model)")
        page.click("#compare-button")
        wait_text(page, "#compare-text", "mean IoU per object")
        text = page.locator("#compare-text").inner_text()
        assert re.search(r"(\S.*) vs \1 \+ SAMURAI: mean IoU per object", text), text
        page.wait_for_selector("#compare-table [role=grid]")
        assert page.get_attribute("#compare-table [role=grid]", "aria-rowcount") == "10", "a header, the mean, 8 frames"
        page.wait_for_function("() => { const v = document.querySelector('#compare-video video');"
                               " return v && v.readyState >= 1; }")
        page.evaluate("() => document.querySelector('#compare').scrollIntoView({block: 'start'})")
        screenshot(page, "compare-samurai.png")

        page.evaluate("() => window.scrollTo(0, 0)")
        choose(page, "#tracker-choice", "SAMURAI")
        wait_text(page, "#model-status", "tracker: SAMURAI")
        wait_notice(page, "The prompts were given to the new tracker")
        track_and_watch(page)
        page.evaluate("() => window.scrollTo(0, 0)")
        screenshot(page, "tracked-samurai.png")
        page.click("#export")
        page.wait_for_function("() => document.querySelectorAll('#downloads a').length >= 4")
        names = sorted(Path(href).name for href in page.eval_on_selector_all("#downloads a", "els => els.map(e => e.href)"))
        assert names == ["square_f0-7_samurai_coco_rle.json", "square_f0-7_samurai_davis.zip",
                         "square_f0-7_samurai_masks.zip", "square_f0-7_samurai_overlay.mp4"], names
        screenshot(page, "export-samurai.png")


def test_track_with_sam2long_from_the_tracker_menu(page, tmp_path):  # noqa: F811
    with opened_square_clip(page, tmp_path):
        choose(page, "#tracker-choice", "SAM2Long")
        wait_text(page, "#model-status", "tracker: SAM2Long")
        click_frame(page, 0.3, 0.5)
        seen = track_and_watch(page)
        assert any("Tracking frame 7: 8 of 8 frames (100%)" in line for line in seen), seen
        wait_text(page, "#progress", "Done: 8 of 8 frames tracked")
        wait_text(page, "#model-status", "tracker: SAM2Long, last Track")
        page.evaluate("() => window.scrollTo(0, 0)")
        screenshot(page, "tracked-sam2long.png")
