"""The editor's features as plain handlers on the tiny model: a window of a long video, named
objects, mask prompts, the timeline, the input size per session and Compare."""

import json
import zipfile

import numpy as np
import pytest

from conftest import synthetic_frames
from sam2.frames.opening import open_frame_source
from tracker.actions import exporting, opening, prompting, roster, showing, tracking
from tracker.actions.compare import Comparison, compare, iou
from tracker.errors import UserError
from tracker.model.calls import ModelChoice
from tracker.settings import Limits
from tracker.media.object_list import object_list_html
from tracker.media.timeline import AXIS_HEIGHT, ROW_HEIGHT, WIDTH, frame_at
from tracker.media.video_io import write_mp4
from tracker.sessions.window import FRAMES, SECONDS, FrameWindow

FPS = 10


@pytest.fixture()
def long_session(tiny_calls, tmp_path):
    """30 frames at 10 fps in an app that tracks at most 10 frames at once."""
    video = write_mp4(tmp_path / "long.mp4", synthetic_frames(30), fps=FPS)
    session = opening.open_video(tiny_calls, str(video), limits=Limits(max_frames=10))
    yield session
    session.close()


def square_mask(session, frame_idx):
    """The bright square of synthetic_frames on ``frame_idx`` as an (H, W) bool mask."""
    mask = np.zeros(session.video.size, dtype=bool)
    left = 8 + 3 * frame_idx
    mask[12:32, left:left + 16] = True
    return mask


def test_a_long_video_opens_whole_with_a_window_up_to_the_limit(long_session):
    assert long_session.video.num_frames == 30 and long_session.window == FrameWindow(0, 10)
    assert "30 frames" in opening.video_info(long_session) and "frames 0-9 (0.0-1.0 s)" in opening.video_info(long_session)
    assert any("at most 10" in notice for notice in long_session.video.notices)
    assert showing.step(long_session, 50).frame_idx == 9, "navigation stays in the window"
    with pytest.raises(UserError, match="outside the window"):
        showing.show(long_session, 12)


def test_the_window_is_chosen_by_seconds_or_frames_and_checked(long_session):
    view = opening.set_window(long_session, 2, 2.5, SECONDS)
    assert long_session.window == FrameWindow(20, 25) and view.frame_idx == 20
    opening.set_window(long_session, 12, 18, FRAMES)
    assert long_session.window == FrameWindow(12, 19)
    for start, end, unit, message in [(5, 3, SECONDS, "after the end"), (0, 2.5, SECONDS, "at most 10"),
                                      (9, 4, FRAMES, "no frame"), ("x", 4, FRAMES, "must be a number")]:
        with pytest.raises(UserError, match=message):
            opening.set_window(long_session, start, end, unit)
    assert long_session.window == FrameWindow(12, 19), "a refused window changes nothing"


def test_tracking_and_exports_cover_the_window_with_source_frame_numbers(tiny_calls, long_session):
    opening.set_window(long_session, 2, 2.5, SECONDS)
    showing.show(long_session, 22)
    prompting.click(tiny_calls, long_session, 40, 20, prompting.INCLUDE)
    frames = [u.frame_idx for u in tracking.track(tiny_calls, long_session)][:-1]
    assert frames == [22, 23, 24, 22, 21, 20], "forward to the window's end, back to its start"
    assert long_session.tracked_frames() == [20, 21, 22, 23, 24]
    files = exporting.export_all(long_session)
    assert files.overlay_video.name == "long_f20-24_overlay.mp4"
    assert open_frame_source(str(files.overlay_video)).num_frames == 5
    with zipfile.ZipFile(files.davis_pngs) as archive:
        assert sorted(archive.namelist()) == [f"{f:05d}.png" for f in range(20, 25)]
    coco = json.loads(files.coco_json.read_text())
    assert [(i["id"], i["frame_index"], i["timestamp"]) for i in coco["images"]] == \
        [(f, f, pytest.approx(f / FPS)) for f in range(20, 25)]


def test_moving_the_window_keeps_prompts_and_masks(tiny_calls, long_session):
    prompting.click(tiny_calls, long_session, 20, 20, prompting.INCLUDE)
    list(tracking.track(tiny_calls, long_session))
    before = long_session.masks.packed(5)
    opening.set_window(long_session, 10, 19, FRAMES)
    frames = [u.frame_idx for u in tracking.track(tiny_calls, long_session)][:-1]
    assert frames == list(range(10, 20)), "an object prompted before the window is tracked through it"
    opening.set_window(long_session, 0, 9, FRAMES)
    assert long_session.masks.packed(5) == before and long_session.prompted_frames() == [0]


def test_named_objects_reach_the_list_the_legend_and_every_export(tiny_calls, long_session):
    roster.rename_object(long_session, "  red   car ")
    roster.add_object(long_session)
    assert long_session.objects.labels() == ["1: red car", "2: object 2"]
    roster.select_object(long_session, "1: red car")
    prompting.click(tiny_calls, long_session, 20, 20, prompting.INCLUDE)
    roster.select_object(long_session, "2: object 2")
    roster.rename_object(long_session, "dog/cat")
    prompting.click(tiny_calls, long_session, 50, 40, prompting.INCLUDE)
    list(tracking.track(tiny_calls, long_session))
    files = exporting.export_all(long_session)
    with zipfile.ZipFile(files.mask_pngs) as archive:
        assert {name.split("/")[0] for name in archive.namelist()} == {"1_red_car", "2_dog_cat"}
    coco = json.loads(files.coco_json.read_text())
    assert coco["categories"] == [{"id": 1, "name": "red car"}, {"id": 2, "name": "dog/cat"}]
    assert {(a["object_id"], a["category_id"]) for a in coco["annotations"]} == {(1, 1), (2, 2)}
    plain = showing.masks_on(long_session, 0)
    assert not np.array_equal(tracking.overlay_frame(long_session, 0)[:20, :40], plain[:20, :40]), "legend drawn"
    with pytest.raises(UserError, match="at most 40"):
        roster.rename_object(long_session, "x" * 41)


def test_a_mask_prompt_is_shown_tracked_undone_and_replaced_by_clicks(tiny_calls, long_session):
    showing.show(long_session, 3)
    mask = square_mask(long_session, 3)
    prompting.mask_prompt(tiny_calls, long_session, mask)
    assert long_session.prompts(1, 3).has_mask and (1, 3) in long_session.mask_prompts
    assert 1 in long_session.masks.unpacked(3)
    frames = [u.frame_idx for u in tracking.track(tiny_calls, long_session)][:-1]
    assert frames == [3, 4, 5, 6, 7, 8, 9, 3, 2, 1, 0]
    showing.show(long_session, 3)
    prompting.undo(tiny_calls, long_session)
    assert long_session.state.obj_ids == [] and long_session.mask_prompts == {}
    prompting.mask_prompt(tiny_calls, long_session, mask)
    prompting.click(tiny_calls, long_session, 20, 20, prompting.INCLUDE)
    assert not long_session.prompts(1, 3).has_mask and long_session.mask_prompts == {}
    with pytest.raises(UserError, match="the video 64x48"):
        prompting.mask_prompt(tiny_calls, long_session, np.ones((10, 10), dtype=bool))


def test_the_timeline_marks_where_objects_are_and_takes_the_viewer_there(tiny_calls, long_session):
    prompting.click(tiny_calls, long_session, 20, 20, prompting.INCLUDE)
    view = showing.show(long_session, 4)
    assert view.timeline.shape == (ROW_HEIGHT + AXIS_HEIGHT, WIDTH, 3)
    x = next(x for x in range(WIDTH) if frame_at(x, 0, 9) == 7)
    assert showing.timeline_click(long_session, x).frame_idx == 7
    assert showing.timeline_click(long_session, 0).frame_idx == 0, "the first column is the window's first frame"


def test_the_object_list_names_the_timeline_rows_in_order_with_their_coverage(tiny_calls, long_session):
    prompting.click(tiny_calls, long_session, 20, 20, prompting.INCLUDE)
    roster.add_object(long_session)
    roster.rename_object(long_session, "<b>dog</b>")
    objects = showing.show(long_session, 0).objects
    assert [(e.obj_id, e.label, e.frames_with_mask, e.selected) for e in objects.entries] == [
        (1, "1: object 1", 1, False), (2, "2: <b>dog</b>", 0, True)]
    assert objects.window_frames == 10
    html = object_list_html(objects)
    assert html.index("1: object 1") < html.index("2: &lt;b&gt;dog&lt;/b&gt;") and "<b>dog" not in html
    assert "on 1 of 10 frames" in html and "no mask yet" in html


def test_another_input_size_keeps_the_prompts_with_the_same_weights(tiny_calls, long_session):
    prompting.click(tiny_calls, long_session, 20, 20, prompting.INCLUDE)
    clicks = long_session.prompts(1, 0).clicks
    opening.switch_model(tiny_calls, long_session, ModelChoice(long_session.model.model_id, 64))
    assert long_session.model == ModelChoice(long_session.model.model_id, 64)
    assert np.allclose([(c.x, c.y) for c in long_session.prompts(1, 0).clicks], [(c.x, c.y) for c in clicks])
    assert 1 in long_session.masks.unpacked(0)
    assert [u.frame_idx for u in tracking.track(tiny_calls, long_session)][:-1] == list(range(10))
    small = tiny_calls.engine(long_session.model).predictor
    base = tiny_calls.engine().predictor
    assert all(a.data_ptr() == b.data_ptr() for a, b in zip(small.parameters(), base.parameters()))


def test_compare_runs_the_same_prompts_through_another_model(tiny_calls, long_session):
    prompting.click(tiny_calls, long_session, 20, 20, prompting.INCLUDE)
    roster.add_object(long_session)
    prompting.mask_prompt(tiny_calls, long_session, square_mask(long_session, 0))
    with pytest.raises(UserError, match="Track the objects first"):
        list(compare(tiny_calls, long_session, ModelChoice(long_session.model.model_id, 64)))
    list(tracking.track(tiny_calls, long_session))
    with pytest.raises(UserError, match="another model"):
        list(compare(tiny_calls, long_session, long_session.model))
    items = list(compare(tiny_calls, long_session, ModelChoice(long_session.model.model_id, 64)))
    result = items[-1]
    assert isinstance(result, Comparison) and all(isinstance(i, str) for i in items[:-1])
    assert result.headers == ["frame", "1: object 1", "2: object 2"]
    assert [row[0] for row in result.rows] == ["mean", *range(10)]
    assert all(0.0 <= value <= 1.0 for row in result.rows for value in row[1:])
    video = open_frame_source(str(result.video))
    assert (video.num_frames, video.video_width) == (10, 2 * 480), "two halves, scaled up to fit the names"
    assert "mean IoU per object" in result.text


def test_iou():
    a = np.zeros((4, 4), dtype=bool)
    b = a.copy()
    assert iou(a, b) == 1.0
    a[:2] = True
    b[1:3] = True
    assert iou(a, b) == pytest.approx(4 / 12)


def test_exports_keep_the_sound_and_add_cutouts_mattes_and_a_blurred_background(tiny_calls, tmp_path):
    """An upload with sound: the overlay of the window 0.3-0.8 s carries that part of it; every
    extra export is written per object, named, over the window's frames."""
    from test_media_exports import CHIRP, decode_video, ffmpeg, streams

    video = tmp_path / "tone.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48:rate=10", "-f", "lavfi", "-i", CHIRP, "-t", "1",
           "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", str(video))
    session = opening.open_video(tiny_calls, str(video))
    opening.set_window(session, 3, 7, FRAMES)
    roster.rename_object(session, "thing")
    prompting.click(tiny_calls, session, 30, 20, prompting.INCLUDE)
    list(tracking.track(tiny_calls, session))
    reports = []
    files = exporting.export_all(session, exporting.EXTRAS, reports.append)
    assert [p.name for p in files.extras] == ["tone_f3-7_1_thing_cutout.webm", "tone_f3-7_1_thing_cutout.zip",
                                              "tone_f3-7_1_thing_matte.mp4", "tone_f3-7_blurred_background.mp4"]
    assert len(reports) == 3 and "1: thing" in reports[1]
    for path in (files.overlay_video, files.extras[3]):
        assert "Audio: aac" in streams(path), "the upload's sound is kept"
    matte = decode_video(files.extras[2], (48, 64), "gray")[..., 0] > 128
    masks = np.stack([session.masks.unpacked(f)[1] for f in range(3, 8)])
    assert matte.shape == masks.shape and (matte == masks).mean() > 0.98
    with pytest.raises(UserError, match="Unknown export 'gifs'"):
        exporting.export_all(session, ["gifs"])
    session.close()
