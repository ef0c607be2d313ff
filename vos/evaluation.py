"""Score predicted masks against ground truth: J, F and J&F per object, per video and overall."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

import numpy as np

from .mask_files import MaskTrack, annotation_root, subfolders, video_tracks
from .scores import ObjectScores


class LayoutMismatch(ValueError):
    """Predictions that cannot be matched with the ground truth (missing videos, frames, sizes)."""


class NothingToScore(ValueError):
    """No object of any video has a frame to score."""


@dataclass(frozen=True)
class Score:
    """J and F in percent; J&F is their mean."""

    j: float
    f: float

    @property
    def jf(self) -> float:
        return (self.j + self.f) / 2


def mean_score(scores: Iterable[Score]) -> Score:
    scores = list(scores)
    return Score(float(np.mean([s.j for s in scores])), float(np.mean([s.f for s in scores])))


@dataclass(frozen=True)
class VideoResult:
    name: str
    objects: Dict[str, Score]  # object id (DAVIS label) or folder name (SA-V) -> score

    @property
    def score(self) -> Score:
        return mean_score(self.objects.values())


def _track_scores(gt: MaskTrack, pred: MaskTrack, skip_first_and_last: bool) -> Dict[str, Score]:
    frames = gt.frames()
    if skip_first_and_last:
        frames = frames[1:-1]
    scores = ObjectScores()
    for frame in frames:
        if not (pred.folder / frame).is_file():
            raise LayoutMismatch(f"prediction {pred.folder / frame} is missing")
        gt_mask, pred_mask = gt.read(frame), pred.read(frame)
        if gt_mask.shape != pred_mask.shape:
            raise LayoutMismatch(f"{pred.folder / frame} is {pred_mask.shape}, its ground truth {gt_mask.shape}")
        scores.add_frame(pred_mask, gt_mask)
    means = scores.means()
    if gt.object_name is not None:  # SA-V: one object per folder, named by the folder
        return {gt.object_name: Score(*means[True])} if means else {}
    return {str(obj): Score(*value) for obj, value in sorted(means.items())}


@dataclass(frozen=True)
class VideoEvaluation:
    """Evaluates one video by name (picklable, for worker processes)."""

    gt_root: Path
    pred_root: Path
    skip_first_and_last: bool = True

    def __call__(self, video: str) -> VideoResult:
        objects = {}
        for gt in video_tracks(self.gt_root, video):
            pred_folder = self.pred_root / gt.folder.relative_to(self.gt_root)
            objects.update(_track_scores(gt, MaskTrack(pred_folder, gt.object_name), self.skip_first_and_last))
        return VideoResult(video, objects)


@dataclass(frozen=True)
class Report:
    """The scored videos (each with at least one scored object), and the names of the videos
    that had nothing to score (too few annotated frames, or no object in them)."""

    videos: List[VideoResult]
    unscored: List[str] = field(default_factory=list)

    @property
    def score(self) -> Score:
        """Overall: the mean over every object of every video."""
        return mean_score(s for video in self.videos for s in video.objects.values())

    def object_csv(self) -> str:
        """The official evaluator's results.csv: a global line, then one line per object."""
        width = max([len("Global score")] + [len(video.name) for video in self.videos])
        total = self.score
        lines = [f'{"sequence":<{width}},{"obj":>3}, {"J&F":>4}, {"J":>4}, {"F":>4}',
                 f'{"Global score":<{width}},{"":>3}, {total.jf:.1f}, {total.j:.1f}, {total.f:.1f}']
        for video in self.videos:
            for obj, s in video.objects.items():
                label = f"{int(obj):03d}" if obj.isdigit() else obj
                lines.append(f"{video.name:<{width}},{label}, {s.jf:>4.1f}, {s.j:>4.1f}, {s.f:>4.1f}")
        return "\n".join(lines) + "\n"

    def video_csv(self) -> str:
        """One line per video (the mean of its objects), then the overall line."""
        rows = ["video,objects,J&F,J,F"]
        rows += [f"{v.name},{len(v.objects)},{v.score.jf:.4f},{v.score.j:.4f},{v.score.f:.4f}" for v in self.videos]
        total = self.score
        return "\n".join(rows + [f"overall,{sum(len(v.objects) for v in self.videos)},"
                                 f"{total.jf:.4f},{total.j:.4f},{total.f:.4f}"]) + "\n"


def videos_to_evaluate(gt_root: Path, pred_root: Path, strict: bool) -> List[str]:
    """The videos of the ground truth to score: all of them (``strict``: each must have
    predictions), else those that have predictions."""
    gt_videos, pred_videos = set(subfolders(gt_root)), set(subfolders(pred_root))
    if strict and gt_videos != pred_videos:
        raise LayoutMismatch(
            f"videos only in {gt_root}: {sorted(gt_videos - pred_videos)}; "
            f"only in {pred_root}: {sorted(pred_videos - gt_videos)}"
        )
    return sorted(gt_videos & pred_videos)


def evaluate(
    gt_root: Path, pred_root: Path, strict: bool = False, processes: Optional[int] = None,
    skip_first_and_last: bool = True,
) -> Report:
    """Score every video of ``pred_root`` against ``gt_root`` (same layout), in ``processes``
    worker processes (None or 1: in this one)."""
    gt_root, pred_root = annotation_root(Path(gt_root)), Path(pred_root)
    videos = videos_to_evaluate(gt_root, pred_root, strict)
    evaluation = VideoEvaluation(gt_root, pred_root, skip_first_and_last)
    if not processes or processes <= 1 or len(videos) <= 1:
        results = [evaluation(video) for video in videos]
    else:
        with ProcessPoolExecutor(max_workers=processes) as pool:
            results = list(pool.map(evaluation, videos))
    scored = [result for result in results if result.objects]
    if results and not scored:
        raise NothingToScore(_nothing_to_score(len(results), skip_first_and_last))
    return Report(scored, [result.name for result in results if not result.objects])


def _nothing_to_score(videos: int, skipped_first_and_last: bool) -> str:
    why = ("the first and last annotated frames of each video are not scored (as SA-V and DAVIS are), "
           "which leaves no frame in a video of fewer than 3; score them with "
           "--do_not_skip_first_and_last_frame" if skipped_first_and_last
           else "no ground-truth object appears in any annotated frame")
    return f"nothing to score in {videos} video(s): {why}"


def score_table(report: Report) -> List[Tuple[str, str, Score]]:
    """(video, object, score) rows for printing: each object, each video's mean ("all"), overall."""
    rows = []
    for video in report.videos:
        rows += [(video.name, obj, s) for obj, s in video.objects.items()]
        rows.append((video.name, "all", video.score))
    return rows + [("overall", "", report.score)]
