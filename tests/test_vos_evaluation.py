"""J and F on hand-made masks with known answers; both dataset layouts; the evaluator's CLI."""

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from oracle.paths import REPO
from vos.evaluation import LayoutMismatch, NothingToScore, evaluate
from vos.scores import ObjectScores, boundary_f, boundary_map, boundary_tolerance, disk, region_similarity


def square(top, left, size, shape=(100, 100)):
    mask = np.zeros(shape, bool)
    mask[top : top + size, left : left + size] = True
    return mask


def test_region_similarity_known_values():
    a, b = square(10, 10, 10), square(10, 11, 10)  # one column apart: 90 shared of 110
    assert region_similarity(a, b) == pytest.approx(90 / 110)
    assert region_similarity(a, a) == 1.0
    assert region_similarity(a, square(50, 50, 10)) == 0.0
    empty = np.zeros((100, 100), bool)
    assert region_similarity(empty, empty) == 1.0 and region_similarity(empty, a) == 0.0


def test_boundary_map_of_a_square_is_its_outline_shifted_towards_the_origin():
    edges = boundary_map(square(2, 2, 3, shape=(8, 8)))
    expected = np.zeros((8, 8), bool)
    expected[1:5, 1] = expected[1:5, 4] = expected[1, 1:5] = expected[4, 1:5] = True
    assert np.array_equal(edges, expected)


def test_tolerance_and_disk():
    assert boundary_tolerance((100, 100)) == 2  # 0.008 * 141.4 = 1.13, rounded up
    assert boundary_tolerance((480, 854)) == 8
    assert disk(1).tolist() == [[0, 1, 0], [1, 1, 1], [0, 1, 0]]
    assert disk(2).sum() == 13


def test_boundary_f_known_values():
    a = square(10, 10, 10)
    assert boundary_f(a, a, 2) == 1.0
    assert boundary_f(a, square(10, 11, 10), 2) == 1.0  # one pixel off, within tolerance
    assert boundary_f(a, square(60, 60, 10), 2) == 0.0  # far apart
    # A 20-pixel square against the same square with its right half cut: 3 of the 4 sides
    # of the half are on the square's outline, one is new.
    full, half = square(10, 10, 20), square(10, 10, 20)
    half[:, 20:] = False
    full_edges, half_edges = np.count_nonzero(boundary_map(full)), np.count_nonzero(boundary_map(half))
    precision = np.count_nonzero(boundary_map(half) & boundary_map(full)) / half_edges
    recall = np.count_nonzero(boundary_map(full) & boundary_map(half)) / full_edges
    assert boundary_f(half, full, 0) == pytest.approx(2 * precision * recall / (precision + recall))
    empty = np.zeros((100, 100), bool)
    assert boundary_f(empty, empty, 2) == 1.0
    assert boundary_f(empty, a, 2) == 0.0 and boundary_f(a, empty, 2) == 0.0


def test_objects_are_scored_from_their_first_frame_in_gt_or_prediction():
    scores = ObjectScores()
    first, second = np.zeros((100, 100), np.uint8), np.zeros((100, 100), np.uint8)
    first[square(10, 10, 10)] = 1
    second[square(10, 10, 10)] = 1
    second[square(50, 50, 10)] = 2  # object 2 appears on the second frame
    scores.add_frame(first, first)
    scores.add_frame(second, second)
    predicted_only = np.where(second == 2, 3, second).astype(np.uint8)  # a 3 the ground truth lacks
    scores.add_frame(predicted_only, second)
    means = scores.means()
    assert set(means) == {1, 2}  # 3 is not reported
    assert means[1] == (100.0, 100.0)
    assert means[2] == (50.0, 50.0)  # scored on frames 2 and 3 only: 1 and 0


def write_davis(root, video, labels):
    (root / video).mkdir(parents=True)
    for index, frame in enumerate(labels):
        image = Image.fromarray(frame.astype(np.uint8), mode="P")
        image.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0] + [0] * 759)
        image.save(root / video / f"{index:05d}.png")


def write_sav(root, video, objects):
    for name, masks in objects.items():
        (root / video / name).mkdir(parents=True)
        for index, mask in enumerate(masks):
            Image.fromarray(mask.astype(np.uint8) * 255).save(root / video / name / f"{index:05d}.png")


def shifted_frames(shift):
    frames = []
    for index in range(4):
        labels = np.zeros((100, 100), np.uint8)
        labels[square(10 + index, 10, 10)] = 1
        labels[square(50, 40 + index + shift, 10)] = 2
        frames.append(labels)
    return frames


def test_davis_and_sav_layouts_give_the_same_scores(tmp_path):
    gt, pred = shifted_frames(0), shifted_frames(1)
    write_davis(tmp_path / "davis_gt", "clip", gt)
    write_davis(tmp_path / "davis_pred", "clip", pred)
    for root, frames in (("sav_gt", gt), ("sav_pred", pred)):
        write_sav(tmp_path / root, "clip", {f"{obj:03d}": [f == obj for f in frames] for obj in (1, 2)})
    davis = evaluate(tmp_path / "davis_gt", tmp_path / "davis_pred")
    sav = evaluate(tmp_path / "sav_gt", tmp_path / "sav_pred")
    assert list(davis.videos[0].objects) == ["1", "2"] and list(sav.videos[0].objects) == ["001", "002"]
    for d, s in zip(davis.videos[0].objects.values(), sav.videos[0].objects.values()):
        assert (d.j, d.f) == pytest.approx((s.j, s.f))
    assert davis.videos[0].objects["1"].j == 100.0
    assert davis.videos[0].objects["2"].j == pytest.approx(100 * 90 / 110)  # frames 1 and 2 only
    assert davis.score.jf == pytest.approx((davis.score.j + davis.score.f) / 2)
    all_frames = evaluate(tmp_path / "davis_gt", tmp_path / "davis_pred", skip_first_and_last=False)
    assert all_frames.videos[0].objects["2"].j == pytest.approx(100 * 90 / 110)


def test_missing_predictions_are_reported(tmp_path):
    write_davis(tmp_path / "gt", "a", shifted_frames(0))
    write_davis(tmp_path / "gt", "b", shifted_frames(0))
    write_davis(tmp_path / "pred", "a", shifted_frames(0)[:2])
    with pytest.raises(LayoutMismatch, match="only in .*gt.*'b'"):
        evaluate(tmp_path / "gt", tmp_path / "pred", strict=True)
    with pytest.raises(LayoutMismatch, match="00002.png is missing"):
        evaluate(tmp_path / "gt", tmp_path / "pred")


def test_the_evaluator_script_writes_the_official_csv(tmp_path):
    for video in ("a", "b"):
        write_davis(tmp_path / "gt", video, shifted_frames(0))
        write_davis(tmp_path / "pred", video, shifted_frames(1))
    result = subprocess.run(
        [sys.executable, str(REPO / "sav_dataset" / "sav_evaluator.py"), "--gt_root", str(tmp_path / "gt"),
         "--pred_root", str(tmp_path / "pred"), "-n", "2", "--strict"],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = (tmp_path / "pred" / "results.csv").read_text().splitlines()
    assert lines[0].split(",")[0].strip() == "sequence" and lines[1].startswith("Global score")
    assert [line.split(",")[:2] for line in lines[2:]] == [["a" + " " * 11, "001"], ["a" + " " * 11, "002"],
                                                           ["b" + " " * 11, "001"], ["b" + " " * 11, "002"]]
    per_video = (tmp_path / "pred" / "results_per_video.csv").read_text().splitlines()
    assert per_video[0] == "video,objects,J&F,J,F" and per_video[-1].startswith("overall,4,")
    assert "overall" in result.stdout


def run_evaluator(tmp_path, *flags):
    return subprocess.run(
        [sys.executable, str(REPO / "sav_dataset" / "sav_evaluator.py"), "--gt_root", str(tmp_path / "gt"),
         "--pred_root", str(tmp_path / "pred"), "-n", "1", *flags],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )


def test_a_set_too_short_to_score_is_an_error_not_a_table_of_nan(tmp_path):
    """Two frames, the first and last skipped: a message and a non-zero exit; scored with
    every frame, the same set gives numbers. A video with nothing to score among scored ones
    is left out with a warning."""
    write_davis(tmp_path / "gt", "short", shifted_frames(0)[:2])
    write_davis(tmp_path / "pred", "short", shifted_frames(1)[:2])
    with pytest.raises(NothingToScore, match="do_not_skip_first_and_last_frame"):
        evaluate(tmp_path / "gt", tmp_path / "pred")
    result = run_evaluator(tmp_path)
    assert result.returncode == 1 and "nothing to score in 1 video(s)" in result.stderr, result
    assert "nan" not in (result.stdout + result.stderr).lower() and "Warning" not in result.stderr
    assert not (tmp_path / "pred" / "results.csv").exists()
    assert run_evaluator(tmp_path, "--do_not_skip_first_and_last_frame").returncode == 0

    write_davis(tmp_path / "gt", "long", shifted_frames(0))
    write_davis(tmp_path / "pred", "long", shifted_frames(1))
    report = evaluate(tmp_path / "gt", tmp_path / "pred")
    assert [v.name for v in report.videos] == ["long"] and report.unscored == ["short"]
    result = run_evaluator(tmp_path)
    assert result.returncode == 0 and "left out: short" in result.stderr and "nan" not in result.stdout.lower()
