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
from sam2.text_boxes import FoundBox, TextDetectorError
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
    calls = model_calls_for(tiny_engine, detectors=lambda model_id, device: detector)
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
