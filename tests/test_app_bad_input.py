"""Bad and odd uploads and requests through the app's handlers: each gets a clear message (no
server path, no stack trace) or a working session, and the app stays usable afterwards."""

import re

import pytest

from conftest import synthetic_frames
from media import CASES, MAX_FRAMES
from sam2.frame_source import open_frame_source
from tracker import handlers
from tracker.settings import Limits
from tracker.video_io import write_mp4

LIMITS = Limits(max_frames=MAX_FRAMES, max_objects=2, max_points=3)


@pytest.fixture()
def good_video(tmp_path):
    return str(write_mp4(tmp_path / "good.mp4", synthetic_frames(6), fps=10))


def track_and_export(engine, session) -> None:
    """A click in the middle of the last frame, tracking and the exports work, for every frame."""
    height, width = session.size
    handlers.click(engine, session, session.num_frames - 1, width / 2, height / 2, handlers.INCLUDE)
    for _ in handlers.track(engine, session, stream_seconds=0.0):
        pass
    assert session.tracked_frames() == list(range(session.num_frames))
    files = handlers.export_all(session)
    overlay = open_frame_source(str(files.overlay_video))
    assert overlay.num_frames == session.num_frames
    overlay.close()


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_upload_is_refused_clearly_or_works(tiny_engine, tmp_path, good_video, case):
    path = case.build(tmp_path / "media")
    if case.error:
        with pytest.raises(handlers.UserError, match=case.error) as refused:
            handlers.open_video(tiny_engine, str(path), LIMITS)
        assert str(tmp_path) not in str(refused.value) and "Traceback" not in str(refused.value)
        session = handlers.open_video(tiny_engine, good_video, LIMITS)
    else:
        session = handlers.open_video(tiny_engine, str(path), LIMITS)
        assert case.opened_as(session.size[1], session.size[0], session.num_frames), handlers.video_info(session)
        assert len(session.notices) == (1 if case.notice else 0), session.notices
        if case.notice:
            assert re.search(case.notice_pattern(session.num_frames), handlers.video_info(session)), session.notices
    track_and_export(tiny_engine, session)
    work_dir = session.work_dir
    session.close()
    assert not work_dir.exists()


def test_refused_upload_leaves_no_files(tiny_engine, tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video")
    with pytest.raises(handlers.UserError):
        handlers.open_video(tiny_engine, str(bad), LIMITS)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.mp4"]


def test_path_like_and_markup_names_are_cleaned(tiny_engine, tmp_path):
    folder = tmp_path / "upload"
    folder.mkdir()
    weird = folder / "..%2F..%2F<script>clip (1).mp4"
    write_mp4(weird, synthetic_frames(3), fps=10)
    session = handlers.open_video(tiny_engine, str(weird), LIMITS, output_root=tmp_path / "served")
    assert session.video_name == "2F.._2F_script_clip _1.mp4"
    handlers.click(tiny_engine, session, 0, 20, 20, handlers.INCLUDE)
    list(handlers.track(tiny_engine, session))
    files = handlers.export_all(session).as_list()
    for path in files:
        relative = path.split(str(tmp_path / "served") + "/", 1)[1]
        assert re.fullmatch(r"[0-9a-f]{32}/2F\.\._2F_script_clip _1_(overlay\.mp4|masks\.zip|davis\.zip|coco_rle\.json)",
                            relative), path
    session.close()
    assert not any((tmp_path / "served").iterdir())


@pytest.mark.parametrize(
    "request_, message",
    [
        (lambda e, s: handlers.click(e, s, 0, -1, 5, handlers.INCLUDE), r"outside the 64x48 frame"),
        (lambda e, s: handlers.click(e, s, 0, 5, float("nan"), handlers.INCLUDE), r"outside the 64x48 frame"),
        (lambda e, s: handlers.click(e, s, "x", 5, 5, handlers.INCLUDE), r"'x' is not a frame number"),
        (lambda e, s: handlers.click(e, s, 6, 5, 5, handlers.INCLUDE), r"Frame 6 does not exist"),
        (lambda e, s: handlers.click(e, s, 0, 5, 5, "paint"), r"Unknown click mode"),
        (lambda e, s: [handlers.click(e, s, 0, 5 + i, 5, handlers.INCLUDE) for i in range(4)],
         r"At most 3 points per object on one frame"),
        (lambda e, s: [handlers.add_object(s) for _ in range(2)], r"At most 2 objects"),
    ],
    ids=["left of the frame", "not a number", "frame not a number", "frame past the end", "unknown mode",
         "too many points", "too many objects"],
)
def test_requests_beyond_the_frame_or_the_limits_are_refused(tiny_engine, good_video, request_, message):
    session = handlers.open_video(tiny_engine, good_video, LIMITS)
    with pytest.raises(handlers.UserError, match=message):
        request_(tiny_engine, session)
    track_and_export(tiny_engine, session)
    session.close()
