"""A refused action leaves the page as it was: a notice, and the viewer, slider, timeline and
info line keep what they showed (no "Error" badge over them), so the next click still lands."""

from app_server import running_app
from browser import click_frame, page, upload, wait_for_notice  # noqa: F401
from conftest import synthetic_frames
from tracker.media.video_io import write_mp4

KEPT = ["#frame-view", "#frame-slider", "#timeline", "#video-info", "#progress", "#overlay-video", "#downloads"]


def error_badges(page) -> list:
    """The components (of those a refusal must leave alone) that show Gradio's error badge."""
    return page.evaluate(
        """ids => ids.filter(id => {
            const block = document.querySelector(id);
            return block && [...block.querySelectorAll('.error, [class*=error]')]
                .some(element => element.innerText.trim() === 'Error');
        })""",
        KEPT,
    )


def assert_page_kept(page, src: str) -> None:
    assert error_badges(page) == []
    assert page.locator("#frame-view img").get_attribute("src") == src
    assert page.locator("#frame-view img").is_visible()


def test_refused_actions_leave_the_viewer_showing_its_frame_and_clicks_landing(page, tmp_path):
    video = write_mp4(tmp_path / "clip.mp4", synthetic_frames(12, 96, 128), fps=10)
    not_a_video = tmp_path / "notes.mp4"
    not_a_video.write_text("this is a text file, not a video\n" * 20)
    with running_app(tmp_path) as url:
        upload(page, url, video, 12)
        src = page.locator("#frame-view img").get_attribute("src")
        refusals = [
            (lambda: page.click("#track"), "Click on the object to track first."),
            (lambda: page.click("#export"), "Nothing to export yet"),
            (lambda: page.click("#undo"), "Nothing to undo"),
            (lambda: (page.fill("#window-start input", "99"), page.click("#set-window")),
             "The window starts after the end of the video"),
        ]
        for action, notice in refusals:
            action()
            wait_for_notice(page, notice)
            page.wait_for_timeout(300)  # the answer has reached every output by now
            assert_page_kept(page, src)
        click_frame(page, 0.5, 0.5)  # still lands: the viewer redraws with the point
        assert error_badges(page) == []

        # A file that is not a video, chosen after removing the open one (as a user would).
        page.locator("#video-input button[aria-label='Clear']").click()
        page.wait_for_function("() => !document.querySelector('#frame-view img')")
        page.set_input_files("#video-input input[type=file]", str(not_a_video))
        wait_for_notice(page, "This file is not a video that can be read")
        page.wait_for_timeout(300)
        assert error_badges(page) == []
        page.locator("#video-input button[aria-label='Clear']").click()
        page.set_input_files("#video-input input[type=file]", str(video))
        page.wait_for_selector("#frame-view img")
        click_frame(page, 0.5, 0.5)
