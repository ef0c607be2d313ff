"""The app's handlers as plain functions on the tiny model: the whole flow without a server."""

import json
import os
import zipfile
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from conftest import synthetic_frames
from sam2.frames.opening import open_frame_source
from tracker.media.mask_rle import decode, from_coco
from sam2.runtime.memory_policy import MemoryPolicy
from tracker.actions import exporting, opening, prompting, roster, showing, tracking
from tracker.errors import SessionClosed, UserError
from tracker.settings import Limits
from tracker.media.video_io import write_mp4


@pytest.fixture()
def calls(tiny_calls):
    return tiny_calls


@pytest.fixture()
def video(tmp_path):
    return str(write_mp4(tmp_path / "square.mp4", synthetic_frames(8), fps=10))


@pytest.fixture()
def session(calls, video):
    session = opening.open_video(calls, video)
    yield session
    session.close()


def click(calls, session, frame_idx, x, y, mode=prompting.INCLUDE):
    """A click on ``frame_idx`` as a user makes it: show the frame, then click on it."""
    showing.show(session, frame_idx)
    return prompting.click(calls, session, x, y, mode)


def test_open_video_reports_size_length_and_fps(session):
    assert opening.video_info(session) == ("square.mp4: 64x48, 8 frames, 10.00 fps, 0.8 s, no sound. "
                                            "Working on frames 0-7 (0.0-0.8 s).")
    view = showing.show(session, 0)
    assert view.frame_idx == 0 and view.image.shape == (48, 64, 3)


def test_prev_and_next_step_from_the_shown_frame_within_the_video(session):
    assert showing.step(session, -1).frame_idx == 0
    showing.show(session, 6)
    assert [showing.step(session, 1).frame_idx, showing.step(session, 1).frame_idx] == [7, 7]
    assert showing.step(session, -3).frame_idx == 4 and session.view.shown_frame == 4


def test_clicks_draw_points_and_masks_and_the_model_state_holds_the_prompts(calls, session):
    plain = showing.show(session, 2).image
    shown = prompting.click(calls, session, 20, 20, prompting.INCLUDE)
    assert shown.frame_idx == 2 and not np.array_equal(plain, shown.image)
    assert 1 in session.masks.unpacked(2)
    prompting.click(calls, session, 60, 40, prompting.EXCLUDE)
    clicks = session.prompts(1, 2).clicks
    assert [c.positive for c in clicks] == [True, False]
    assert np.allclose([(c.x, c.y) for c in clicks], [(20, 20), (60, 40)], atol=1e-3)
    prompting.undo(calls, session)
    assert [c.positive for c in session.prompts(1, 2).clicks] == [True]
    assert session.dirty_from == 2


def test_box_takes_two_corners(calls, session):
    click(calls, session, 0, 5, 5, prompting.BOX)
    assert session.prompts(1, 0).empty and session.view.pending_corner == (0, 5, 5)
    prompting.click(calls, session, 40, 30, prompting.BOX)
    assert np.allclose(session.prompts(1, 0).box, (5, 5, 40, 30), atol=1e-3)
    assert session.view.pending_corner is None and session.state.obj_ids == [1]
    prompting.click(calls, session, 20, 20, prompting.INCLUDE)
    prompts = session.prompts(1, 0)
    assert np.allclose(prompts.box, (5, 5, 40, 30), atol=1e-3) and len(prompts.clicks) == 1


def test_undoing_the_last_prompt_takes_the_object_out_of_the_model(calls, session):
    click(calls, session, 3, 20, 20)
    assert session.state.obj_ids == [1] and 1 in session.masks.unpacked(3)
    prompting.undo(calls, session)
    assert session.state.obj_ids == [] and session.masks.unpacked(3) == {}


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda c, s: prompting.click(c, s, 500, 5, prompting.INCLUDE), "outside"),
        (lambda c, s: prompting.click(c, s, 5, 5, prompting.INCLUDE, frame_idx=99), "does not exist"),
        (lambda c, s: showing.show(s, "seven"), "not a frame number"),
        (lambda c, s: prompting.undo(c, s), "Nothing to undo"),
        (lambda c, s: list(tracking.track(c, s)), "Click on the object"),
        (lambda c, s: exporting.export_all(s), "track the objects first"),
        (lambda c, s: roster.select_object(s, "7: cat"), "no object 7"),
    ],
)
def test_mistakes_get_a_clear_message(calls, session, call, message):
    with pytest.raises(UserError, match=message):
        call(calls, session)


def test_unreadable_upload_is_reported(calls, tmp_path):
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video")
    with pytest.raises(UserError, match="not a video that can be read"):
        opening.open_video(calls, str(bad))


def test_a_failed_model_call_changes_nothing(calls, session, monkeypatch):
    click(calls, session, 1, 20, 20)
    before = (session.prompts(1, 1), session.masks.packed(1), session.state.obj_ids, session.dirty_from)

    def broken(*args):
        raise RuntimeError("the GPU went away")

    monkeypatch.setattr(calls, "edit_prompts", broken)
    with pytest.raises(RuntimeError):
        prompting.click(calls, session, 40, 30, prompting.EXCLUDE)
    assert (session.prompts(1, 1), session.masks.packed(1), session.state.obj_ids, session.dirty_from) == before


def test_objects_are_limited_and_removable(calls, video):
    session = opening.open_video(calls, video, limits=Limits(max_objects=3))
    roster.add_object(session)
    view = roster.add_object(session)
    assert session.objects.ids == [1, 2, 3] and session.objects.current == 3 and view.frame_idx == 0
    with pytest.raises(UserError, match="At most 3 objects"):
        roster.add_object(session)
    prompting.click(calls, session, 20, 20, prompting.INCLUDE)
    assert session.state.obj_ids == [3]
    roster.remove_object(calls, session)
    assert session.objects.ids == [1, 2] and session.objects.current == 1
    assert session.state.obj_ids == [] and session.masks.unpacked(0) == {}
    session.close()


def test_track_goes_forward_then_backwards_with_progress_and_time_left(calls, session):
    click(calls, session, 3, 20, 20)
    updates = list(tracking.track(calls, session))
    assert [u.frame_idx for u in updates[:-1]] == [3, 4, 5, 6, 7, 3, 2, 1, 0]
    # The prompted frame 3 comes again to start the backward pass: counted once.
    assert [u.done for u in updates[:-1]] == [1, 2, 3, 4, 5, 5, 6, 7, 8]
    assert updates[-1].done == updates[-1].total == 8 and updates[-1].percent == 100
    assert updates[0].text == "Tracking frame 3: 1 of 8 frames (11%), measuring the speed..."
    assert updates[0].seconds_left is None
    measured = updates[4]
    assert "frames/s, about " in measured.text and measured.text.endswith(" s left")
    assert measured.seconds_left == pytest.approx(4 / measured.frames_per_second)
    assert session.tracked_frames() == list(range(8)) and session.dirty_from is None


def test_the_viewer_shows_the_frame_it_names_and_clicks_land_there(calls, session, monkeypatch):
    """After Track the viewer shows the last tracked frame and a click goes there, also after
    adding an object; each view that tracking sends is the frame it names."""
    monkeypatch.setattr(tracking, "VIEW_INTERVAL_SECONDS", 0.0)
    click(calls, session, 0, 20, 20)
    updates = list(tracking.track(calls, session))
    for update in updates:
        expected = showing.show(session, update.view.frame_idx).image
        assert np.array_equal(update.view.image, expected)
    assert updates[-1].view.frame_idx == 7 and session.view.shown_frame == 7
    view = roster.add_object(session)
    assert view.frame_idx == 7
    prompting.click(calls, session, 50, 40, prompting.INCLUDE)
    assert [f for f in session.prompted_frames()] == [0, 7]
    assert len(session.prompts(2, 7).clicks) == 1 and session.prompts(2, 0).empty


def test_a_prompt_on_frame_1_is_tracked_back_to_frame_0(calls, session):
    click(calls, session, 1, 20, 20)
    frames = [u.frame_idx for u in tracking.track(calls, session)]
    assert frames == [1, 2, 3, 4, 5, 6, 7, 1, 0, 0]
    assert session.tracked_frames() == list(range(8))


def test_stop_keeps_what_was_done(calls, session):
    click(calls, session, 0, 20, 20)
    updates = []
    for update in tracking.track(calls, session):
        updates.append(update)
        if update.frame_idx == 2:
            tracking.request_stop(session)
    assert [u.frame_idx for u in updates] == [0, 1, 2, 2]
    assert updates[-1].view.frame_idx == 2 and session.view.shown_frame == 2
    assert session.tracked_frames() == [0, 1, 2] and session.dirty_from == 0


def test_close_waits_for_the_request_using_the_session(calls, session):
    click(calls, session, 0, 20, 20)
    versions = []
    for _ in range(3):
        versions.append(session.files.output_path("result.txt"))
        versions[-1].write_text("for the user")
    assert [path.exists() for path in versions] == [False, True, True], "two versions of a file are kept"
    output = versions[-1]
    with session.in_use():
        session.close()
        assert session.files.stop.requested and output.exists()
        showing.show(session, 0)
    assert not output.exists() and not session.files.work_dir.exists() and session.state.objects == []
    with pytest.raises(SessionClosed):
        with session.in_use():
            pass


def test_correction_retracks_only_from_the_corrected_frame(calls, session):
    click(calls, session, 0, 20, 20)
    list(tracking.track(calls, session))
    before = {f: session.masks.unpacked(f)[1] for f in range(8)}
    click(calls, session, 5, 45, 30, prompting.EXCLUDE)
    frames = [u.frame_idx for u in tracking.track(calls, session)][:-1]
    assert frames == [5, 6, 7]
    for f in range(5):
        assert np.array_equal(session.masks.unpacked(f)[1], before[f])


def test_exports_contain_every_mask(calls, session):
    click(calls, session, 0, 20, 20)
    roster.add_object(session)
    prompting.click(calls, session, 50, 40, prompting.INCLUDE)
    list(tracking.track(calls, session))
    files = exporting.export_all(session)
    overlay = open_frame_source(str(files.overlay_video))
    assert (overlay.num_frames, overlay.video_width, overlay.video_height, overlay.fps) == (8, 64, 48, 10.0)
    with zipfile.ZipFile(files.mask_pngs) as archive:
        names = sorted(archive.namelist())
        assert len(names) == 16 and names[0] == "1_object_1/00000.png"
        png = np.array(Image.open(archive.open("2_object_2/00004.png")))
        assert png.shape == (48, 64) and np.array_equal(png > 0, session.masks.unpacked(4)[2])
    with zipfile.ZipFile(files.davis_pngs) as archive:
        label = Image.open(archive.open("00003.png"))
        assert label.mode == "P" and set(np.unique(np.array(label))) <= {0, 1, 2}
    coco = json.loads(files.coco_json.read_text())
    assert len(coco["annotations"]) == 16
    first = coco["annotations"][0]
    mask = session.masks.unpacked(first["image_id"])[first["object_id"]]
    assert np.array_equal(decode(from_coco(first["segmentation"])), mask)


@pytest.fixture()
def spilling_session(calls, video, monkeypatch):
    """A session whose engine keeps one tracked frame per object in RAM."""
    monkeypatch.setattr(calls.engine(None), "memory_policy", MemoryPolicy(resident_memory_frames=1))
    session = opening.open_video(calls, video)
    yield session
    session.close()


def test_spilled_memories_that_no_state_uses_are_deleted(calls, spilling_session):
    session = spilling_session
    click(calls, session, 0, 20, 20)
    list(tracking.track(calls, session))
    spill = session.files.spill_dir
    files = set(spill_files(spill))
    assert files and files == {key.rsplit("/", 1)[-1] for key in session.state.spilled_keys()}
    list(tracking.track(calls, session))  # every frame again: new memories
    assert set(spill_files(spill)) == {key.rsplit("/", 1)[-1] for key in session.state.spilled_keys()}


def test_the_davis_export_scores_with_the_dataset_evaluator(calls, session, tmp_path):
    """Unzipped into <predictions>/<video>/, the DAVIS export is a prediction folder that
    sav_dataset/sav_evaluator.py scores; against itself as ground truth every J and F is 100."""
    from vos.evaluation import evaluate

    click(calls, session, 0, 20, 20)
    list(tracking.track(calls, session))
    with zipfile.ZipFile(exporting.export_all(session).davis_pngs) as archive:
        for root in ("gt", "pred"):
            archive.extractall(tmp_path / root / "square")
    report = evaluate(tmp_path / "gt", tmp_path / "pred", strict=True)
    assert list(report.videos[0].objects) == ["1"] and report.score.jf == 100.0


def test_the_uploaded_videos_frame_caches_follow_the_engines_memory_policy(calls, video, monkeypatch):
    policy = MemoryPolicy(model_input_cache_frames=2, decoded_cache_bytes=1)
    monkeypatch.setattr(calls.engine(None), "memory_policy", policy)
    session = opening.open_video(calls, video)
    try:
        for frame in range(5):
            session.frames.model_input(frame, 64)
        assert session.frames.cache_info().maxsize == 2 and session.frames.cache_info().currsize == 2
        assert session.frames._window == 1  # decoded frames kept: the least there can be
        assert session.state.memory_policy == replace(policy, spill_dir=str(session.files.spill_dir))
    finally:
        session.close()


def spill_files(folder):
    return os.listdir(folder)
