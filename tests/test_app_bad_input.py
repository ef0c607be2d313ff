"""Bad and odd uploads and requests through the app's handlers: each gets a clear message (no
server path, no stack trace) or a working session, and the app stays usable afterwards."""

import re

import pytest

from conftest import synthetic_frames
from media import CASES, MAX_FRAMES
from sam2.frames.opening import open_frame_source
from tracker.actions import exporting, opening, prompting, roster, tracking
from tracker.errors import UserError
from tracker.settings import Limits
from tracker.media.video_io import write_mp4

LIMITS = Limits(max_frames=MAX_FRAMES, max_objects=2, max_points=3)


@pytest.fixture()
def good_video(tmp_path):
    return str(write_mp4(tmp_path / "good.mp4", synthetic_frames(6), fps=10))


def track_and_export(calls, session) -> None:
    """A click in the middle of the window's last frame, tracking and the exports work, for
    every frame of the window."""
    height, width = session.video.size
    prompting.click(calls, session, width / 2, height / 2, prompting.INCLUDE, frame_idx=session.window.last)
    for _ in tracking.track(calls, session):
        pass
    assert session.tracked_frames() == list(session.window)
    files = exporting.export_all(session)
    overlay = open_frame_source(str(files.overlay_video))
    assert overlay.num_frames == len(session.window)
    overlay.close()


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_upload_is_refused_clearly_or_works(tiny_calls, tmp_path, good_video, case):
    path = case.build(tmp_path / "media")
    if case.error:
        with pytest.raises(UserError, match=case.error) as refused:
            opening.open_video(tiny_calls, str(path), limits=LIMITS)
        assert str(tmp_path) not in str(refused.value) and "Traceback" not in str(refused.value)
        session = opening.open_video(tiny_calls, good_video, limits=LIMITS)
    else:
        session = opening.open_video(tiny_calls, str(path), limits=LIMITS)
        video = session.video
        assert case.opened_as(video.width, video.height, video.num_frames), opening.video_info(session)
        assert len(video.notices) == (1 if case.notice else 0), video.notices
        if case.notice:
            assert re.search(case.notice_pattern(video.num_frames), opening.video_info(session)), video.notices
    track_and_export(tiny_calls, session)
    work_dir = session.files.work_dir
    session.close()
    assert not work_dir.exists()


def test_refused_upload_leaves_no_files(tiny_calls, tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video")
    with pytest.raises(UserError):
        opening.open_video(tiny_calls, str(bad), limits=LIMITS)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.mp4"]


def test_path_like_and_markup_names_are_cleaned(tiny_calls, tmp_path):
    folder = tmp_path / "upload"
    folder.mkdir()
    weird = folder / "..%2F..%2F<script>clip (1).mp4"
    write_mp4(weird, synthetic_frames(3), fps=10)
    session = opening.open_video(tiny_calls, str(weird), limits=LIMITS, output_root=tmp_path / "served")
    assert session.video.name == "2F.._2F_script_clip _1.mp4"
    prompting.click(tiny_calls, session, 20, 20, prompting.INCLUDE)
    list(tracking.track(tiny_calls, session))
    files = exporting.export_all(session).as_list()
    for path in files:
        relative = path.split(str(tmp_path / "served") + "/", 1)[1]
        assert re.fullmatch(r"[0-9a-f]{32}/2F\.\._2F_script_clip _1_f0-2_(overlay\.mp4|masks\.zip|davis\.zip|coco_rle\.json)",
                            relative), path
    session.close()
    assert not any((tmp_path / "served").iterdir())


@pytest.mark.parametrize(
    "request_, message",
    [
        (lambda c, s: prompting.click(c, s, -1, 5, prompting.INCLUDE), r"outside the 64x48 frame"),
        (lambda c, s: prompting.click(c, s, 5, float("nan"), prompting.INCLUDE), r"outside the 64x48 frame"),
        (lambda c, s: prompting.click(c, s, 5, 5, prompting.INCLUDE, frame_idx="x"), r"'x' is not a frame number"),
        (lambda c, s: prompting.click(c, s, 5, 5, prompting.INCLUDE, frame_idx=6), r"Frame 6 does not exist"),
        (lambda c, s: prompting.click(c, s, 5, 5, "paint"), r"Unknown click mode"),
        (lambda c, s: [prompting.click(c, s, 5 + i, 5, prompting.INCLUDE) for i in range(4)],
         r"At most 3 points per object on one frame"),
        (lambda c, s: [roster.add_object(s) for _ in range(2)], r"At most 2 objects"),
    ],
    ids=["left of the frame", "not a number", "frame not a number", "frame past the end", "unknown mode",
         "too many points", "too many objects"],
)
def test_requests_beyond_the_frame_or_the_limits_are_refused(tiny_calls, good_video, request_, message):
    session = opening.open_video(tiny_calls, good_video, limits=LIMITS)
    with pytest.raises(UserError, match=message):
        request_(tiny_calls, session)
    track_and_export(tiny_calls, session)
    session.close()
