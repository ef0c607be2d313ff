"""A new user's session in headless Chromium: upload a real video, click, Track, watch frames
stream and the overlay video play, add an object, correct a frame, track again, download
the exports and check them. Also refreshes docs/screenshot.png when SAM2_UPDATE_SCREENSHOT=1."""

import json
import os
import shutil
import urllib.request
import zipfile

import numpy as np
import pytest
from PIL import Image

from app_server import REPO, running_app
from conftest import shared_data_or_skip, synthetic_frames
from sam2.frame_source import open_frame_source
from sam2.mask_rle import decode, from_coco
from tracker.video_io import write_mp4

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-sync"]


@pytest.fixture()
def page():
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1300})
        page.set_default_timeout(120_000)
        yield page
        browser.close()


def click_frame(page, fx: float, fy: float) -> None:
    """Click the shown frame at a fraction of its width and height; wait for the redraw."""
    image = page.locator("#frame-view img")
    before = image.get_attribute("src")
    box = image.bounding_box()
    image.click(position={"x": box["width"] * fx, "y": box["height"] * fy})
    page.wait_for_function(
        "before => document.querySelector('#frame-view img').getAttribute('src') !== before", arg=before
    )


def track_and_watch(page) -> set:
    """Press Track; return the progress lines seen while it streams, once it is done."""
    page.click("#track")
    seen = set()
    page.wait_for_function("() => document.querySelector('#progress').innerText.includes('Tracking')")
    while True:
        text = page.locator("#progress").inner_text()
        seen.add(text)
        if "Overlay video ready" in text:
            return seen
        page.wait_for_timeout(200)


def download(url: str, target) -> str:
    with urllib.request.urlopen(url) as response, open(target, "wb") as out:
        out.write(response.read())
    return str(target)


def test_new_user_session_in_the_browser(page, tmp_path):
    clip = shared_data_or_skip("bedroom.mp4")
    with running_app(tmp_path) as url:
        page.goto(url, wait_until="domcontentloaded")
        page.wait_for_selector("#video-input")
        page.set_input_files("#video-input input[type=file]", str(clip))
        page.wait_for_function("() => document.querySelector('#video-info').innerText.includes('200 frames')")
        assert "960x540" in page.locator("#video-info").inner_text()
        page.wait_for_selector("#frame-view img")

        click_frame(page, 0.45, 0.6)
        progress = track_and_watch(page)
        assert sum("Tracking: frame" in line for line in progress) >= 2, progress
        page.wait_for_selector("#latest img")
        page.wait_for_selector("#stream video")
        overlay = page.wait_for_selector("#overlay-video video")
        page.wait_for_function(
            "() => { const v = document.querySelector('#overlay-video video'); return v && v.readyState >= 1 && v.duration > 6; }"
        )
        assert overlay.get_attribute("src")

        page.click("#add-object")
        page.wait_for_function("() => document.querySelector('#object-choice input').value === '2'")
        click_frame(page, 0.2, 0.3)
        # Tracking left the slider on the last frame; step back to correct an earlier one.
        assert page.locator("#frame-slider input[type=number]").input_value() == "199"
        for expected in range(198, 193, -1):
            page.click("#prev-frame")
            page.wait_for_function(
                "n => document.querySelector('#frame-slider input[type=number]').value === String(n)", arg=expected
            )
        page.get_by_label("Exclude (red)").check()
        click_frame(page, 0.25, 0.35)
        track_and_watch(page)
        if os.environ.get("SAM2_UPDATE_SCREENSHOT") == "1":
            page.screenshot(path=str(REPO / "docs" / "screenshot.png"), full_page=True)

        page.click("#export")
        page.wait_for_function("() => document.querySelectorAll('#downloads a').length >= 4")
        links = page.eval_on_selector_all("#downloads a", "els => els.map(e => e.href)")
        files = {}
        for link in links:
            name = link.split("?")[0].rsplit("/", 1)[-1]
            files[name] = download(link, tmp_path / name)

    assert sorted(files) == ["bedroom_coco_rle.json", "bedroom_davis.zip", "bedroom_masks.zip", "bedroom_overlay.mp4"]
    video = open_frame_source(files["bedroom_overlay.mp4"])
    assert (video.num_frames, video.video_width, video.video_height) == (200, 960, 540)
    coco = json.loads(open(files["bedroom_coco_rle.json"]).read())
    assert {a["object_id"] for a in coco["annotations"]} == {1, 2}
    annotations = {(a["image_id"], a["object_id"]): a for a in coco["annotations"]}
    with zipfile.ZipFile(files["bedroom_masks.zip"]) as pngs, zipfile.ZipFile(files["bedroom_davis.zip"]) as davis:
        assert len(davis.namelist()) == 200 and len(pngs.namelist()) == 400
        for frame_idx in (0, 5, 120, 194, 199):
            for obj_id in (1, 2):
                png = np.array(Image.open(pngs.open(f"{obj_id}/{frame_idx:05d}.png"))) > 0
                assert png.shape == (540, 960)
                assert np.array_equal(png, decode(from_coco(annotations[(frame_idx, obj_id)]["segmentation"])))


def wait_for_notice(page, text: str) -> None:
    """Wait for a toast (gr.Error / gr.Warning / gr.Info) that contains ``text``."""
    page.wait_for_function(
        "text => [...document.querySelectorAll(\"[data-testid='toast-text']\")].some(t => t.innerText.includes(text))",
        arg=text,
    )


def test_a_bad_upload_gets_a_message_and_the_page_keeps_working(page, tmp_path):
    bad = tmp_path / "notes.mp4"
    bad.write_text("this is a text file, not a video\n" * 20)
    long_clip = write_mp4(tmp_path / "long.mp4", synthetic_frames(8, 96, 128), fps=10)
    with running_app(tmp_path, extra_env={"SAM2_MAX_FRAMES": "5"}) as url:
        page.goto(url, wait_until="domcontentloaded")
        page.wait_for_selector("#video-input")
        page.set_input_files("#video-input input[type=file]", str(bad))
        wait_for_notice(page, "This file is not a video that can be read")
        assert "Traceback" not in page.content()
        # As a user would: dismiss the error shown over the player, then remove the file.
        page.locator("#video-input [data-testid='status-tracker'] button[aria-label='Clear']").click()
        page.locator("#video-input [data-testid='video'] button[aria-label='Clear']").click()
        page.set_input_files("#video-input input[type=file]", str(long_clip))
        page.wait_for_function("() => document.querySelector('#video-info').innerText.includes('5 frames')")
        assert "only the first 5" in page.locator("#video-info").inner_text()
        wait_for_notice(page, "only the first 5")
        page.wait_for_selector("#frame-view img")
        click_frame(page, 0.5, 0.5)
