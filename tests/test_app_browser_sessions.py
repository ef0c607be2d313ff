"""Each tab has its own session, held by the page (Gradio's per-tab state): two tabs work on two
videos without touching each other, and closing a tab frees its session. While Track runs the
overlay video grows and plays; when it ends the finished file takes its place."""

import shutil

import pytest

from app_client import wait_until
from app_server import app_process
from browser import CHROMIUM, CHROMIUM_FLAGS, click_frame, go_to_frame, playwright_api, upload, wait_for_notice, wait_text
from conftest import synthetic_frames
from tracker.media.video_io import write_mp4

OVERLAY = "document.querySelector('#overlay-video video')"


@pytest.fixture()
def browser():
    if not shutil.which(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                             args=[*CHROMIUM_FLAGS, "--autoplay-policy=no-user-gesture-required"])
        yield browser
        browser.close()


def new_tab(browser):
    tab = browser.new_page(viewport={"width": 1400, "height": 1300})
    tab.set_default_timeout(120_000)
    return tab


def overlay_state(tab) -> dict:
    return tab.evaluate(f"""() => {{ const v = {OVERLAY};
        return v ? {{src: v.src, duration: v.duration, time: v.currentTime}} : null; }}""")


@pytest.mark.skipif(not (shutil.which("ffmpeg") and shutil.which("ffprobe")), reason="streaming needs ffmpeg")
def test_the_overlay_video_plays_while_tracking_and_the_finished_file_replaces_it(browser, tmp_path):
    frames = 240  # 24 s at 10 fps: pieces of 2 s, while the tiny model tracks for a while
    video = write_mp4(tmp_path / "long.mp4", synthetic_frames(frames, 240, 320), fps=10)
    with app_process(tmp_path) as app:
        tab = new_tab(browser)
        upload(tab, app.url, video, frames)
        click_frame(tab, 0.3, 0.3)
        tab.click("#track")
        tab.wait_for_function(f"() => {{ const v = {OVERLAY}; return v && v.src.startsWith('blob:') && v.duration > 0 "
                              "&& v.currentTime > 0; }")
        during = overlay_state(tab)
        progress = tab.locator("#progress").inner_text()
        assert progress.startswith("Tracking frame"), (progress, during)
        assert during["duration"] < frames / 10, "a partial video, before Track has tracked every frame"
        wait_text(tab, "#progress", "Overlay video ready")
        tab.wait_for_function(f"() => {{ const v = {OVERLAY}; return v && !v.src.startsWith('blob:') "
                              "&& v.readyState >= 1; }")
        after = overlay_state(tab)
        assert after["src"].endswith(f"long_f0-{frames - 1}_overlay.mp4"), after
        assert abs(after["duration"] - frames / 10) < 0.2, after


def test_two_tabs_keep_their_own_sessions_and_a_closed_tab_frees_its_own(browser, tmp_path):
    first_video = write_mp4(tmp_path / "first.mp4", synthetic_frames(12, 120, 160), fps=10)
    second_video = write_mp4(tmp_path / "second.mp4", synthetic_frames(20, 90, 200), fps=10)
    with app_process(tmp_path) as app:
        first, second = new_tab(browser), new_tab(browser)
        upload(first, app.url, first_video, 12)
        upload(second, app.url, second_video, 20)
        assert len(app.session_dirs()) == 2
        click_frame(first, 0.5, 0.5)
        wait_text(first, "#object-list", "on 1 of 12 frames")
        second.click("#add-object")
        wait_text(second, "#object-list", "2: object 2")
        # Each tab still has its own video, objects and prompts.
        assert "first.mp4: 160x120, 12 frames" in first.locator("#video-info").inner_text()
        assert "second.mp4: 200x90, 20 frames" in second.locator("#video-info").inner_text()
        assert "2: object 2" not in first.locator("#object-list").inner_text()
        assert "no mask yet" in second.locator("#object-list").inner_text()
        first.click("#track")
        wait_text(first, "#progress", "Done: 12 of 12 frames")
        second.click("#track")
        wait_for_notice(second, "Click on the object to track first")

        kept = app.session_dirs()
        second.close()
        wait_until(lambda: len(app.session_dirs()) == 1, 10, "the closed tab's session is freed")
        assert app.session_dirs()[0] in kept
        go_to_frame(first, 1)  # the surviving tab goes on working
        click_frame(first, 0.2, 0.2)
        first.click("#track")
        wait_text(first, "#progress", "Done: 11 of 11 frames")
