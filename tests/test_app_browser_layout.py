"""The page on a laptop screen (1280x720): after an upload the viewer and Track are in sight
without scrolling. With SAM2_UPDATE_SCREENSHOT=1 it refreshes docs/screenshot-laptop.png and
docs/screenshot-phone.png (390x844)."""

import os

from app_server import REPO, running_app
from browser import page, upload  # noqa: F401
from conftest import synthetic_frames
from tracker.video_io import write_mp4

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
