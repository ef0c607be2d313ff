"""The tracker choice in the app: a session opened or switched to SAMURAI runs its rules, the
status line and the export names say so, Compare runs the same prompts with another tracker,
and the timeline marks frames where an object was judged absent."""

import os
from dataclasses import replace

import numpy as np
import pytest
import torch

from conftest import synthetic_frames
from tracker.actions import exporting, opening, prompting, tracking
from tracker.actions.compare import compare
from tracker.errors import UserError
from tracker.media.timeline import ABSENT_COLOR, ROW_HEIGHT, TimelineRow, draw_timeline
from tracker.media.video_io import write_mp4
from tracker.model.calls import ModelChoice
from tracker.page.model_menu import ModelMenu


@pytest.fixture()
def video(tmp_path):
    return str(write_mp4(tmp_path / "square.mp4", synthetic_frames(6), fps=10))


def test_a_samurai_session_tracks_with_its_rules_and_names_its_exports(tiny_calls, video):
    model = ModelChoice(tiny_calls.engines.default_model_id, tracker="samurai")
    session = opening.open_video(tiny_calls, video, model)
    try:
        assert session.model.tracker == "samurai" and session.state.tracker.name == "samurai"
        prompting.click(tiny_calls, session, 20, 20, prompting.INCLUDE)
        list(tracking.track(tiny_calls, session))
        track = session.state.objects[0].tracker_state
        assert track.last_frame is not None and track.box_filter is not None
        files = exporting.export_all(session, ())
        names = [os.path.basename(path) for path in files.as_list()]
        assert names[0] == "square_f0-5_samurai_overlay.mp4", names
        assert all("_f0-5_samurai_" in name for name in names), names
    finally:
        session.close()


def test_a_sam2long_track_ends_on_its_best_lineage_in_the_page(tiny_calls, video, sam2long_revises_frames_2_to_4):
    model = ModelChoice(tiny_calls.engines.default_model_id, tracker="sam2long")
    session = opening.open_video(tiny_calls, video, model)
    try:
        prompting.click(tiny_calls, session, 20, 20, prompting.INCLUDE)
        updates = list(tracking.track(tiny_calls, session))
        last = updates[-1]
        assert (last.done, last.total, last.percent, last.revised) == (6, 6, 100, 3)
        assert [u.frame_idx for u in updates[:-1]] == [0, 1, 2, 3, 4, 5]  # revised frames are no steps
        stored = session.state.objects[0].non_cond_outputs[2].pred_masks
        logits = torch.nn.functional.interpolate(stored, size=(session.video.height, session.video.width),
                                                 mode="bilinear", align_corners=False)[0, 0]
        shown = session.masks.unpacked(2)[session.state.obj_ids[0]]
        assert np.array_equal(shown, (logits > 0).numpy())
        names = [os.path.basename(path) for path in exporting.export_all(session, ()).as_list()]
        assert names[0] == "square_f0-5_sam2long_overlay.mp4", names
    finally:
        session.close()


@pytest.fixture()
def tracked(tiny_calls, video):
    """A SAM 2 session with one clicked object tracked over the whole video."""
    session = opening.open_video(tiny_calls, video)
    prompting.click(tiny_calls, session, 20, 20, prompting.INCLUDE)
    list(tracking.track(tiny_calls, session))
    yield session
    session.close()


def test_switching_the_tracker_gives_the_prompts_to_a_fresh_state(tiny_calls, tracked):
    assert tracked.state.tracker.name == "sam2"
    opening.switch_model(tiny_calls, tracked, replace(tracked.model, tracker="samurai"))
    assert tracked.state.tracker.name == "samurai" and tracked.prompted_frames() == [0]
    assert tracked.tracked_frames() == [0]  # the rest is to be tracked again


def test_compare_runs_the_same_prompts_with_another_tracker(tiny_calls, tracked):
    menu = ModelMenu([], False)
    other = menu.compare_choice("SAMURAI tracker (same model)", tracked.model)
    assert other == replace(tracked.model, tracker="samurai")
    result = list(compare(tiny_calls, tracked, other))[-1]
    name = tiny_calls.engine(tracked.model).name
    assert result.models == (name, f"{name} + SAMURAI")
    assert result.headers[0] == "frame" and [row[0] for row in result.rows[1:]] == list(range(6))
    assert all(0.0 <= value <= 1.0 for row in result.rows for value in row[1:])
    with pytest.raises(UserError, match="another model, input size or tracker"):
        list(compare(tiny_calls, tracked, menu.compare_choice("SAM 2 tracker (same model)", tracked.model)))
    with pytest.raises(UserError, match="Choose a model or tracker"):
        menu.compare_choice("nothing", tracked.model)


def test_unknown_tracker_is_refused_with_the_offered_ones():
    with pytest.raises(UserError, match="Unknown tracker 'kalman': choose one of sam2, samurai, dam4sam, sam2long"):
        ModelMenu.tracker("kalman")
    assert ModelMenu.tracker(None) == "sam2"
    assert ModelMenu([], False).trackers == [("SAM 2", "sam2"), ("SAMURAI", "samurai"), ("DAM4SAM", "dam4sam"),
                                               ("SAM2Long", "sam2long")]


def test_the_timeline_marks_frames_judged_absent():
    rows = [TimelineRow(1, {0: 50, 1: 50, 2: 0, 3: 0, 4: 40}), TimelineRow(2, {0: 30})]
    image = draw_timeline(rows, 0, 9, width=100)
    middle = ROW_HEIGHT // 2
    red = np.all(image[middle, :, :] == ABSENT_COLOR, axis=-1)
    assert red[20:40].all() and not red[:20].any() and not red[40:].any()  # frames 2 and 3 only
    assert not np.all(image[ROW_HEIGHT + middle] == ABSENT_COLOR, axis=-1).any()  # untracked is not absent
