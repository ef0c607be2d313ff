"""Finding objects by text (sam2.text_boxes): phrases parsed, detections turned into named
boxes (threshold, best phrase, one box per thing), and a tiny random-weights Grounding DINO
loaded by transformers' real code from a folder and from a Hugging Face cache."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from oracle.paths import REPO
from sam2.text_boxes import (DEFAULT_DETECTOR, FoundBox, TextDetector, TextDetectorError, boxes_from_scores,
                             parse_phrases, phrase_positions)
from text_detector import put_in_hub_cache, save_tiny_grounding_dino


def test_phrases_are_split_trimmed_and_kept_once():
    assert parse_phrases("Dog, a  red Ball;; dog\nperson.") == ["dog", "a red ball", "person"]
    assert parse_phrases(["Cat ", "cat", "car"]) == ["cat", "car"]
    for empty in ("", " , ; ", []):
        with pytest.raises(ValueError, match="type what to find"):
            parse_phrases(empty)


def test_detections_become_one_named_box_per_thing_above_the_threshold():
    phrases = ["dog", "ball"]
    scores = torch.tensor([[0.9, 0.1], [0.8, 0.2], [0.1, 0.7], [0.2, 0.25], [0.6, 0.65]])
    boxes = torch.tensor([[10, 10, 50, 50], [12, 12, 50, 52], [100, 10, 120, 30], [0, 0, 5, 5], [-20, 5, 300, 90]],
                         dtype=torch.float32)
    found = boxes_from_scores(scores, boxes, (100, 200), phrases, threshold=0.3)
    # query 1 is query 0's dog again (IoU > 0.5); query 3 is under the threshold; query 4 is a
    # ball (its best phrase), clamped to the 200x100 frame
    assert found == [FoundBox("dog", pytest.approx(0.9), (10.0, 10.0, 50.0, 50.0)),
                     FoundBox("ball", pytest.approx(0.7), (100.0, 10.0, 120.0, 30.0)),
                     FoundBox("ball", pytest.approx(0.65), (0.0, 5.0, 200.0, 90.0))]
    assert [f.phrase for f in boxes_from_scores(scores, boxes, (100, 200), phrases, 0.75)] == ["dog"]
    assert boxes_from_scores(torch.zeros(0, 2), torch.zeros(0, 4), (100, 200), phrases, 0.3) == []


@pytest.fixture(scope="module")
def tiny_detector_folder(tmp_path_factory):
    pytest.importorskip("transformers")
    return save_tiny_grounding_dino(tmp_path_factory.mktemp("detector") / "grounding-dino-tiny")


def test_each_phrase_reads_its_own_tokens(tiny_detector_folder):
    detector = TextDetector(str(tiny_detector_folder))
    prompt = "dog . red ball ."
    offsets = detector.processor.tokenizer(prompt, return_offsets_mapping=True)["offset_mapping"]
    assert phrase_positions(offsets, [(0, 3), (6, 14)]) == [[1], [3, 4]]


def test_a_detector_from_a_folder_finds_named_boxes_on_a_frame(tiny_detector_folder):
    detector = TextDetector(str(tiny_detector_folder))
    assert detector.grounded and detector.model_id == str(tiny_detector_folder)
    frame = np.random.default_rng(0).integers(0, 255, (90, 160, 3), dtype=np.uint8)
    everything = detector.find(frame, "Dog, ball", threshold=0.0)
    assert everything and {f.phrase for f in everything} <= {"dog", "ball"}
    assert all(0 <= f.box[0] < f.box[2] <= 160 and 0 <= f.box[1] < f.box[3] <= 90 for f in everything)
    assert [f.score for f in everything] == sorted((f.score for f in everything), reverse=True)
    middle = np.median([f.score for f in everything])
    assert detector.find(frame, "dog, ball", threshold=float(middle)) == [f for f in everything if f.score >= middle]
    with pytest.raises(ValueError, match="threshold"):
        detector.find(frame, "dog", threshold=1.5)
    with pytest.raises(ValueError, match="uint8 RGB"):
        detector.find(frame[..., 0], "dog")


def test_a_folder_that_is_no_detector_is_named(tmp_path):
    pytest.importorskip("transformers")
    with pytest.raises(TextDetectorError, match=f"the folder {tmp_path} does not hold a zero-shot object detector"):
        TextDetector(str(tmp_path))


def test_without_transformers_the_error_says_how_to_get_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(TextDetectorError, match=r"needs the transformers package: pip install transformers"):
        TextDetector()


FIND = """
import json, sys
import numpy as np
from sam2.text_boxes import TextDetectorError, find_boxes
frame = np.random.default_rng(0).integers(0, 255, (90, 160, 3), dtype=np.uint8)
try:
    found = find_boxes(frame, "dog, ball", threshold=0.0, detector=sys.argv[1])
except TextDetectorError as error:
    print(json.dumps({"error": str(error)}))
else:
    print(json.dumps({"phrases": sorted({f.phrase for f in found}), "count": len(found)}))
"""


def find_offline(hf_home, detector: str = DEFAULT_DETECTOR) -> dict:
    env = dict(os.environ, HF_HOME=str(hf_home), HF_HUB_OFFLINE="1", PYTHONPATH=str(REPO))
    env.pop("HF_HUB_CACHE", None)
    result = subprocess.run([sys.executable, "-c", FIND, detector], env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_default_detector_loads_from_the_hub_cache_offline_or_says_it_is_missing(tiny_detector_folder, tmp_path):
    put_in_hub_cache(tmp_path / "hf" / "hub", DEFAULT_DETECTOR, tiny_detector_folder)
    found = find_offline(tmp_path / "hf")
    assert found["count"] > 0 and set(found["phrases"]) <= {"dog", "ball"}
    missing = find_offline(tmp_path / "empty")
    assert missing["error"].startswith(f"the text detector {DEFAULT_DETECTOR} is not downloaded")
    assert f"huggingface-cli download {DEFAULT_DETECTOR}" in missing["error"]


def test_a_hub_model_that_is_no_zero_shot_detector_is_named(tmp_path):
    """SAM 3, say: transformers has it, but not through AutoModelForZeroShotObjectDetection."""
    transformers = pytest.importorskip("transformers")
    folder = tmp_path / "bert"
    transformers.BertModel(transformers.BertConfig(vocab_size=16, hidden_size=8, num_hidden_layers=1,
                                                   num_attention_heads=1, intermediate_size=8)).save_pretrained(folder)
    put_in_hub_cache(tmp_path / "hf" / "hub", "someone/not-a-detector", folder)
    found = find_offline(tmp_path / "hf", "someone/not-a-detector")
    assert found["error"].startswith("someone/not-a-detector is not a zero-shot object detector that transformers'")


def test_an_owlv2_detector_scores_each_phrase_as_its_own_query(tmp_path):
    transformers = pytest.importorskip("transformers")
    if int(transformers.__version__.split(".")[0]) < 5:
        pytest.skip("the tiny tokenizer is built with transformers 5's API")
    from text_detector import save_tiny_owlv2

    detector = TextDetector(str(save_tiny_owlv2(tmp_path / "owlv2")))
    assert not detector.grounded and detector.model.config.model_type == "owlv2"
    frame = np.random.default_rng(0).integers(0, 255, (90, 160, 3), dtype=np.uint8)
    found = detector.find(frame, "dog, ball", threshold=0.0)
    assert found and {f.phrase for f in found} <= {"dog", "ball"}
    assert all(0 <= f.box[0] < f.box[2] <= 160 and 0 <= f.box[1] < f.box[3] <= 90 for f in found)
    # boxes are fractions of the padded square: the same as transformers' own post-processing
    inputs = detector.processor(text=[["dog", "ball"]], images=frame, return_tensors="pt")
    with torch.no_grad():
        outputs = detector.model(**inputs)
    theirs = detector.processor.image_processor.post_process_object_detection(
        outputs, threshold=-1.0, target_sizes=[(160, 160)])[0]["boxes"]
    _, ours = detector._per_phrase(frame, ["dog", "ball"])
    assert torch.allclose(ours * torch.tensor([160, 90, 160, 90]), theirs, atol=1e-3)
