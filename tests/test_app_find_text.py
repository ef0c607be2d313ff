"""Find by text in the app: phrases parsed and passed to the detector with the threshold, the
found boxes offered on the shown frame, dropped ones left out, kept ones made objects named by
their phrases and prompted with their boxes, refusals that change nothing, the detector's
errors as page messages, exports named by the phrases, and the real loader with a tiny
random-weights Grounding DINO."""

import json
import os
import zipfile

import numpy as np
import pytest

from conftest import model_calls_for, synthetic_frames
from sam2.text_boxes import FoundBox, TextDetectorError, mask_box, new_things
from sam2.tracking.motion import box_iou
from tracker.actions import exporting, finding, opening, prompting, showing, tracking
from tracker.errors import UserError
from tracker.media.video_io import write_mp4
from tracker.model.calls import ModelChoice

FOUND = [FoundBox("dog", 0.9, (6.0, 6.0, 30.0, 30.0)), FoundBox("ball", 0.6, (36.0, 8.0, 58.0, 40.0)),
         FoundBox("dog", 0.35, (40.0, 20.0, 60.0, 44.0))]


class StandInDetector:
    """Finds the known boxes of the phrases asked, at or above the threshold; records each call."""

    def __init__(self, found=FOUND, error=None) -> None:
        self.found, self.error, self.asked = found, error, []

    def find(self, frame, phrases, threshold):
        self.asked.append((frame.shape, list(phrases), threshold))
        if self.error is not None:
            raise self.error
        return [f for f in self.found if f.phrase in phrases and f.score >= threshold]


@pytest.fixture()
def detector():
    return StandInDetector()


@pytest.fixture()
def session(tiny_engine, detector, tmp_path):
    calls = model_calls_for(tiny_engine, detectors=lambda model_id, device, local_only: detector)
    video = str(write_mp4(tmp_path / "square.mp4", synthetic_frames(6), fps=10))
    session = opening.open_video(calls, video, ModelChoice(calls.engines.default_model_id))
    session.calls = calls
    yield session
    session.close()


def test_found_boxes_are_offered_on_the_shown_frame(session, detector):
    plain, other = showing.show(session, 3).image, showing.show(session, 2).image
    view, labels = finding.find(session.calls, session, " Dog, ball;dog ", 0.5)
    assert detector.asked == [((48, 64, 3), ["dog", "ball"], 0.5)]
    assert labels == ["1: dog (0.90)", "2: ball (0.60)"]
    assert view.frame_idx == 2 and not np.array_equal(view.image, other)  # the boxes are drawn
    assert np.array_equal(showing.show(session, 3).image, plain)  # on their frame only
    assert np.array_equal(showing.show(session, 2).image, view.image)  # still offered on frame 2


def test_refusals_leave_the_offer_and_the_objects_as_they_were(session, detector):
    finding.find(session.calls, session, "dog", 0.3)
    offered = session.findings
    with pytest.raises(UserError, match="type what to find"):
        finding.find(session.calls, session, " , ", 0.3)
    with pytest.raises(UserError, match=r"Nothing found for 'cat', 'car' on frame 0 with a score of 0.30 or more"):
        finding.find(session.calls, session, "cat, car", 0.3)
    detector.error = TextDetectorError("the text detector X is not downloaded")
    with pytest.raises(UserError, match="Find by text: the text detector X is not downloaded"):
        finding.find(session.calls, session, "dog", 0.3)
    with pytest.raises(UserError, match="No box is checked"):
        finding.accept(session.calls, session, [])
    assert session.findings is offered and session.objects.ids == [1] and session.prompted_frames() == []


def test_kept_boxes_become_objects_named_by_their_phrases(session):
    _, labels = finding.find(session.calls, session, "dog, ball", 0.3)
    view = finding.accept(session.calls, session, [labels[0], labels[2]])  # the ball is dropped
    objects = session.objects
    assert objects.ids == [1, 2] and [objects.name(i) for i in objects.ids] == ["dog", "dog"]
    assert [session.prompts(i, 0).box for i in objects.ids] == [FOUND[0].box, FOUND[2].box]
    assert set(session.masks.unpacked(0)) == {1, 2}  # shown at once
    assert session.findings is None and session.dirty_from == 0 and view.frame_idx == 0


def test_an_object_with_prompts_is_kept_and_the_object_limit_is_checked_first(session):
    prompting.click(session.calls, session, 20, 20, prompting.INCLUDE)
    _, labels = finding.find(session.calls, session, "dog, ball", 0.3)
    session.limits = type(session.limits)(**{**vars(session.limits), "max_objects": 3})
    with pytest.raises(UserError, match="3 boxes are checked but only 2 more objects fit"):
        finding.accept(session.calls, session, labels)
    assert session.objects.ids == [1] and session.findings is not None
    finding.accept(session.calls, session, labels[1:])
    assert session.objects.ids == [1, 2, 3]
    assert [session.objects.name(i) for i in (1, 2, 3)] == ["object 1", "ball", "dog"]


def test_exports_name_the_phrases(session):
    _, labels = finding.find(session.calls, session, "dog, ball", 0.3)
    finding.accept(session.calls, session, labels[:2])
    list(tracking.track(session.calls, session))
    files = exporting.export_all(session, ())
    coco = json.loads(open(files.coco_json).read())
    assert [c["name"] for c in coco["categories"]] == ["dog", "ball"]
    with zipfile.ZipFile(files.mask_pngs) as archive:
        assert {name.split("/")[0] for name in archive.namelist()} == {"1_dog", "2_ball"}


def test_offline_the_app_only_loads_a_detector_that_is_here(tiny_engine, detector, monkeypatch):
    from tracker.model import weights

    asked = []
    calls = model_calls_for(tiny_engine, detectors=lambda *args: asked.append(args) or detector)
    frame = np.stack(synthetic_frames(1))[0]
    for reason in (None, "the Hub did not answer"):
        monkeypatch.setattr(weights, "HUB", weights.HubAccess(probe=lambda reason=reason: reason))
        calls.find_text(ModelChoice(calls.engines.default_model_id), frame, ["dog"], 0.3)
    assert [local_only for _, _, local_only in asked] == [False, True]


def test_the_app_loads_the_configured_detector_with_the_real_loader(tiny_engine, tmp_path):
    pytest.importorskip("transformers")
    from text_detector import save_tiny_grounding_dino

    folder = save_tiny_grounding_dino(tmp_path / "detector")
    calls = model_calls_for(tiny_engine, environ={"SAM2_TEXT_DETECTOR": str(folder)})
    frame = np.stack(synthetic_frames(1))[0]
    found = calls.find_text(ModelChoice(calls.engines.default_model_id), frame, ["dog", "ball"], 0.0)
    assert found and {f.phrase for f in found} <= {"dog", "ball"}
    missing = model_calls_for(tiny_engine, environ={"SAM2_TEXT_DETECTOR": str(tmp_path / "nothing")})
    with pytest.raises(UserError, match="Find by text: there is no folder .*nothing"):
        missing.find_text(ModelChoice(missing.engines.default_model_id), frame, ["dog"], 0.3)
    assert os.path.isdir(folder)


def test_a_box_is_new_when_no_object_covers_it():
    masks = {1: np.zeros((48, 64), bool), 2: np.zeros((48, 64), bool)}
    masks[1][6:30, 6:30] = True  # the dog's mask: box (6, 6, 30, 30)
    found = [FoundBox("dog", 0.9, (7.0, 5.0, 31.0, 29.0)),  # the tracked dog (IoU 0.85)
             FoundBox("ball", 0.8, (36.0, 8.0, 58.0, 40.0)),  # nothing there: new
             FoundBox("ball", 0.7, (37.0, 9.0, 58.0, 40.0)),  # the new ball again
             FoundBox("dog", 0.5, (20.0, 20.0, 44.0, 44.0))]  # overlaps the dog a little (IoU 0.14): new
    assert new_things(found, masks) == [found[1], found[3]]
    assert mask_box(masks[2]) is None and box_iou((0, 0, 2, 2), (1, 1, 3, 3)) == pytest.approx(1 / 7)


def test_look_again_needs_a_query_and_a_whole_number(session):
    finding.set_look_every(session, 3)
    assert finding.look_every(session) == 0  # nothing was looked for yet
    finding.find(session.calls, session, "ball", 0.5)
    assert finding.look_every(session) == 3
    for bad in (-1, "two"):
        with pytest.raises(UserError, match="Look again every"):
            finding.set_look_every(session, bad)
    finding.set_look_every(session, None)
    assert finding.look_every(session) == 0


def test_tracking_looks_again_and_tracks_what_it_finds_from_there(session, detector, monkeypatch):
    from tracker.media.timeline import FOUND_COLOR, ROW_HEIGHT

    monkeypatch.setattr(tracking, "VIEW_INTERVAL_SECONDS", 0.0)
    looked = []
    monkeypatch.setattr(finding, "new_things", lambda found, masks: [] if looked else looked.append(1) or found[:1])
    prompting.click(session.calls, session, 20, 20, prompting.INCLUDE)
    finding.find(session.calls, session, "ball", 0.5)  # offered, not kept: Track looks again for it
    finding.set_look_every(session, 2)
    updates = list(tracking.track(session.calls, session))
    assert len(detector.asked) == 1 + 2  # the Find, then after frames 0-1 and 2-3 (not after the last, 4-5)
    assert updates[-1].found == 1 and session.objects.ids == [1, 2] and session.objects.name(2) == "ball"
    assert session.found_at == {2: 1} and session.prompts(2, 1).box == FOUND[1].box
    assert sorted(session.masks.areas(2)) == [1, 2, 3, 4, 5]  # tracked from where it was found
    row = showing.timeline(session)[0][ROW_HEIGHT + 1]  # the top of object 2's row
    assert np.all(row == FOUND_COLOR, axis=-1).any()


def test_without_transformers_the_page_says_how_to_get_it(monkeypatch):
    import importlib.util

    from tracker.page.ui import find_note
    from tracker.settings import AppSettings

    settings = AppSettings.from_sources([], {"SAM2_DEVICE": "cpu", "SAM2_TEXT_DETECTOR": "some/detector"})
    assert find_note(settings).endswith("Detector: some/detector.")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "transformers" else real(name, *a))
    assert find_note(settings) == "Needs the transformers package: pip install transformers (then restart the app)."
