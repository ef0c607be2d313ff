"""Driving the app in headless Chromium (Debian's chromium through Playwright) as a user would."""

import os
import shutil
import urllib.request

import pytest

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-sync"]
SLIDER_NUMBER = "#frame-slider input[type=number]"


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
    """Press Track; return the progress lines seen while it tracks, once it is done."""
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


def upload(page, url: str, video, frames: int) -> None:
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector("#video-input")
    page.set_input_files("#video-input input[type=file]", str(video))
    page.wait_for_function("n => document.querySelector('#video-info').innerText.includes(n + ' frames')", arg=frames)
    page.wait_for_selector("#frame-view img")


def wait_for_notice(page, text: str) -> None:
    """Wait for a toast (gr.Error / gr.Warning / gr.Info) that contains ``text``."""
    page.wait_for_function(
        "text => [...document.querySelectorAll(\"[data-testid='toast-text']\")].some(t => t.innerText.includes(text))",
        arg=text,
    )


def wait_text(page, selector: str, text: str) -> None:
    page.wait_for_function("([s, t]) => document.querySelector(s).innerText.includes(t)", arg=[selector, text])


def wait_value(page, selector: str, value: str) -> None:
    page.wait_for_function("([s, v]) => document.querySelector(s).value === v", arg=[selector, value])


def go_to_frame(page, frame_idx: int) -> None:
    page.fill(SLIDER_NUMBER, str(frame_idx))
    page.press(SLIDER_NUMBER, "Enter")
    wait_value(page, SLIDER_NUMBER, str(frame_idx))


def name_object(page, name: str, label: str) -> None:
    page.fill("#object-name input, #object-name textarea", name)
    page.press("#object-name input, #object-name textarea", "Enter")
    wait_value(page, "#object-choice input", label)
