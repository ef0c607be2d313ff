"""Find by text in headless Chromium: with the default detector (a tiny random-weights Grounding
DINO in the app's Hugging Face cache, offline), type two phrases, find, keep one box of each,
add them as objects, Track and Export: the objects and the COCO file's categories are the
phrases. Without the detector's weights the page says so and changes nothing. With
SAM2_SCREENSHOT_DIR set, screenshots (1280x720) after Find and after the export are saved there."""

import json
import urllib.request

import pytest

from app_server import running_app
from browser import page, track_and_watch, wait_for_notice, wait_text  # noqa: F401
from sam2.text_boxes import DEFAULT_DETECTOR
from test_app_browser_models import screenshot, square_clip
from text_detector import put_in_hub_cache, save_tiny_grounding_dino


def open_clip(page, url, tmp_path) -> None:  # noqa: F811
    page.goto(url, wait_until="domcontentloaded")
    page.set_input_files("#video-input input[type=file]", square_clip(tmp_path / "square.mp4", frames=8))
    wait_text(page, "#video-info", "8 frames")
    page.wait_for_selector("#frame-view img")


def find(page, text: str, threshold: str) -> None:  # noqa: F811
    page.fill("#find-threshold input[type=number]", threshold)
    page.press("#find-threshold input[type=number]", "Enter")
    page.fill("#find-text textarea", text)
    page.click("#find-button")


def test_find_two_phrases_keep_one_box_each_track_and_export(page, tmp_path):  # noqa: F811
    pytest.importorskip("transformers")
    put_in_hub_cache(tmp_path / "hf" / "hub", DEFAULT_DETECTOR, save_tiny_grounding_dino(tmp_path / "detector"))
    page.set_viewport_size({"width": 1280, "height": 720})
    with running_app(tmp_path) as url:
        open_clip(page, url, tmp_path)
        before = page.get_attribute("#frame-view img", "src")
        find(page, "dog, ball", "0.05")
        page.wait_for_selector("#found-choice input[type=checkbox]")
        labels = page.locator("#found-choice label").all_inner_texts()
        keep = [next(label for label in labels if ": dog (" in label), next(label for label in labels if ": ball (" in label)]
        assert page.get_attribute("#frame-view img", "src") != before  # the boxes are drawn
        page.evaluate("() => document.querySelector('#frame-view').scrollIntoView({block: 'start'})")
        screenshot(page, "find-text-offer.png")
        for label in labels:
            if label not in keep:
                page.locator("#found-choice label", has_text=label).click()
        assert page.locator("#found-choice input:checked").count() == 2
        page.click("#accept-found")
        page.wait_for_selector("#found-choice", state="hidden")
        # objects in the offer's order (best first), named by their phrases
        names = [label.split(" (")[0].split(": ")[1] for label in sorted(keep, key=lambda l: int(l.split(":")[0]))]
        wait_text(page, "#object-list", f"2: {names[1]}")
        assert f"1: {names[0]}" in page.inner_text("#object-list")
        track_and_watch(page)
        page.click("#export")
        page.wait_for_function("() => document.querySelectorAll('#downloads a').length >= 4")
        links = page.eval_on_selector_all("#downloads a", "els => els.map(e => e.href)")
        coco = next(link for link in links if link.endswith("_coco_rle.json"))
        with urllib.request.urlopen(coco) as response:
            categories = [c["name"] for c in json.loads(response.read())["categories"]]
        assert categories == names
        page.evaluate("() => window.scrollTo(0, 0)")
        screenshot(page, "find-text-exported.png")


def test_without_the_detectors_weights_the_page_says_so(page, tmp_path):  # noqa: F811
    pytest.importorskip("transformers")
    with running_app(tmp_path) as url:
        open_clip(page, url, tmp_path)
        before = page.get_attribute("#frame-view img", "src")
        find(page, "dog", "0.3")
        wait_for_notice(page, f"the text detector {DEFAULT_DETECTOR} is not downloaded")
        assert not page.locator("#found-choice input").count()
        assert page.get_attribute("#frame-view img", "src") == before  # the page is as it was
