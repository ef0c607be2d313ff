"""The page on a laptop screen (1280x720): after an upload the viewer and Track are in sight
without scrolling. With SAM2_UPDATE_SCREENSHOT=1 it refreshes docs/screenshot-laptop.png and
docs/screenshot-phone.png (390x844)."""

import io
import os
import urllib.parse
import urllib.request

import numpy as np
from PIL import Image

from app_server import REPO, running_app
from browser import SLIDER_NUMBER, click_frame, page, upload, wait_text, wait_value  # noqa: F401
from conftest import synthetic_frames
from tracker.media.video_io import write_mp4

LAPTOP = {"width": 1280, "height": 720}
PHONE = {"width": 390, "height": 844}


def in_sight(page, selector: str) -> bool:
    box = page.locator(selector).bounding_box()
    viewport = page.viewport_size
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"] \
        and box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"]


def test_a_laptop_sees_the_viewer_and_track_without_scrolling(page, tmp_path):
    video = write_mp4(tmp_path / "clip.mp4", synthetic_frames(12, 360, 640), fps=10)
    with running_app(tmp_path) as url:
        page.set_viewport_size(LAPTOP)
        upload(page, url, video, 12)
        page.wait_for_timeout(500)
        assert page.evaluate("() => window.scrollY") == 0
        assert in_sight(page, "#frame-view img"), page.locator("#frame-view img").bounding_box()
        assert in_sight(page, "#track"), page.locator("#track").bounding_box()
        if os.environ.get("SAM2_UPDATE_SCREENSHOT") == "1":
            page.screenshot(path=str(REPO / "docs" / "screenshot-laptop.png"))
            page.set_viewport_size(PHONE)
            page.wait_for_timeout(500)
            page.screenshot(path=str(REPO / "docs" / "screenshot-phone.png"))


def shown_frame(page) -> np.ndarray:
    """The viewer's picture as the server sent it, (H, W, 3) uint8."""
    source = page.locator("#frame-view img").get_attribute("src")
    with urllib.request.urlopen(urllib.parse.urljoin(page.url, source)) as response:
        return np.asarray(Image.open(io.BytesIO(response.read())).convert("RGB"))


def test_a_tall_video_fits_the_screen_and_a_click_lands_where_it_was_made(page, tmp_path):
    """A 64x1024 video is drawn within the screen's height, not 1024 px tall, and a click on the
    shrunk picture is a point at the same place of the frame."""
    video = write_mp4(tmp_path / "tall.mp4", synthetic_frames(6, 1024, 64), fps=10)
    with running_app(tmp_path) as url:
        page.set_viewport_size(LAPTOP)
        upload(page, url, video, 6)
        box = page.locator("#frame-view img").bounding_box()
        assert box["height"] <= 0.75 * LAPTOP["height"], box
        assert abs(box["width"] / box["height"] - 64 / 1024) < 0.01, box
        click_frame(page, 0.5, 0.75)
        green = shown_frame(page).astype(int)
        ys, xs = np.nonzero((green[..., 1] > 170) & (green[..., 0] < 110) & (green[..., 2] < 120))
        assert ys.size, "no include point drawn"
        assert abs(xs.mean() - 32) < 4 and abs(ys.mean() - 768) < 12, (xs.mean(), ys.mean())


def test_the_timeline_rows_are_tall_enough_to_click_and_the_object_list_names_them(page, tmp_path):
    """Rows of at least 16 px on a laptop screen, no label column (the first column is the first
    frame), and the object list names each row, in order, with its colour."""
    video = write_mp4(tmp_path / "clip.mp4", synthetic_frames(12, 360, 640), fps=10)
    with running_app(tmp_path) as url:
        page.set_viewport_size(LAPTOP)
        upload(page, url, video, 12)
        click_frame(page, 0.5, 0.5)
        page.click("#add-object")
        wait_text(page, "#object-list", "2: object 2")
        page.wait_for_function("() => document.querySelector('#timeline img').naturalHeight === 2 * 24 + 16")
        timeline = page.locator("#timeline img")
        box = timeline.bounding_box()
        natural = page.evaluate("() => [document.querySelector('#timeline img').naturalWidth,"
                                " document.querySelector('#timeline img').naturalHeight]")
        assert box["height"] * 24 / natural[1] >= 16, (box, natural)
        chips = page.locator("#object-list .object-chip")
        assert [chip.inner_text().splitlines()[0].strip() for chip in chips.all()] == \
            ["1: object 1", "2: object 2"]
        assert "on 1 of 12 frames" in chips.nth(0).inner_text() and "no mask yet" in chips.nth(1).inner_text()
        timeline.click(position={"x": 1, "y": box["height"] / 4})
        wait_value(page, SLIDER_NUMBER, "0")
        page.locator("#next-frame").click()
        wait_value(page, SLIDER_NUMBER, "1")
        timeline.click(position={"x": 1, "y": box["height"] / 4})
        wait_value(page, SLIDER_NUMBER, "0")
