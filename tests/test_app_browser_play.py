"""Play in the viewer: the tracked frames with their masks at the video's rate, from the shown
frame on; Pause stops on a frame, and a click then lands on that frame."""

from app_server import running_app
from browser import SLIDER_NUMBER, click_frame, go_to_frame, page, track_and_watch, upload  # noqa: F401
from conftest import synthetic_frames
from tracker.media.video_io import write_mp4


def shown_frame(page) -> int:
    return int(page.locator(SLIDER_NUMBER).input_value())


def test_play_steps_through_the_frames_at_the_video_rate_and_pause_keeps_the_frame(page, tmp_path):
    video = write_mp4(tmp_path / "clip.mp4", synthetic_frames(40, 96, 128), fps=10)
    with running_app(tmp_path) as url:
        upload(page, url, video, 40)
        click_frame(page, 0.5, 0.5)
        track_and_watch(page)
        go_to_frame(page, 2)
        page.click("#play")
        page.wait_for_function(f"() => +document.querySelector('{SLIDER_NUMBER}').value >= 6")
        seen = {shown_frame(page)}
        page.wait_for_timeout(400)
        seen.add(shown_frame(page))
        assert len(seen) == 2, "it keeps going"
        page.click("#pause")
        page.wait_for_timeout(600)
        paused = shown_frame(page)
        assert 6 <= paused < 39, paused
        page.wait_for_timeout(600)
        assert shown_frame(page) == paused, "Pause stops on a frame"
        click_frame(page, 0.3, 0.3)  # the click lands on the paused frame: the viewer redraws, the number stays
        assert shown_frame(page) == paused
