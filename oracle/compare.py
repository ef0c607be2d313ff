"""Compare scenario recordings (``run_scenario.py`` outputs) step by step. Numpy only.

    python -m oracle.compare reference.npz ours.npz [--min-iou 0.99] [--max-mean-diff 0.02]
    python -m oracle.compare --per-object ours_all.npz official_obj1.npz official_obj2.npz ...

Structure must match exactly: the same number of steps, and per step the same label, frame
index and object ids, and the same set of arrays with the same shapes. Values are compared
per mask (one object on one frame, or one candidate mask of the image predictor):

* masks as logits (float): IoU of ``logits > 0`` and the mean absolute logit difference;
* thresholded masks (booleans or 0/1 floats) from the image predictor: IoU;
* IoU predictions: the largest absolute difference.

Two empty masks count as IoU 1.0. The report keeps the worst value of each measure and
where it happened.

:func:`compare_per_object` compares a run of all objects together with runs of one object
each (``run_scenario.py --only-object``): every step of every one-object run must have a
step with the same label and frame in the all-objects run, whose row for that object is
compared as above.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from oracle.metrics import mask_iou

# Arrays holding mask logits (compared by IoU of the positive region and mean |diff|).
LOGIT_KEYS = ("logits", "low_res", "mask_logits")
# Arrays holding thresholded image-predictor masks (0/1 or bool).
MASK_KEYS = ("masks",)
SCORE_KEYS = ("ious", "stability")
# Per-step entries that describe the step rather than its result.
INFO_KEYS = ("label", "frame_idx", "obj_ids", "seconds")


@dataclass
class Worst:
    value: float
    where: str = ""


@dataclass
class Report:
    steps: int = 0
    masks_compared: int = 0
    logits_compared: int = 0  # of those, masks compared as logits (the |d| measures)
    structure_errors: list = field(default_factory=list)
    worst_iou: Worst = field(default_factory=lambda: Worst(1.0))
    worst_mean_diff: Worst = field(default_factory=lambda: Worst(0.0))
    worst_max_diff: Worst = field(default_factory=lambda: Worst(0.0))
    worst_score_diff: Worst = field(default_factory=lambda: Worst(0.0))
    failures: list = field(default_factory=list)
    seconds: tuple = (0.0, 0.0)

    @property
    def ok(self) -> bool:
        return not self.structure_errors and not self.failures

    def summary(self) -> str:
        head = f"steps={self.steps} masks={self.masks_compared}"
        if any(self.seconds):
            head += f" time a={self.seconds[0]:.1f}s b={self.seconds[1]:.1f}s"
        lines = [head, f"worst IoU        {self.worst_iou.value:.6f}  at {self.worst_iou.where}"]
        if self.logits_compared:
            lines += [
                f"worst mean |d|   {self.worst_mean_diff.value:.3e}  at {self.worst_mean_diff.where}",
                f"worst max |d|    {self.worst_max_diff.value:.3e}  at {self.worst_max_diff.where}",
            ]
        lines.append(f"worst score |d|  {self.worst_score_diff.value:.3e}  at {self.worst_score_diff.where}")
        for problem in self.structure_errors[:10]:
            lines.append("STRUCTURE: " + problem)
        for problem in self.failures[:10]:
            lines.append("FAIL: " + problem)
        hidden = len(self.structure_errors[10:]) + len(self.failures[10:])
        if hidden:
            lines.append(f"... and {hidden} more problems")
        return "\n".join(lines)


def _steps(data) -> int:
    return int(data["meta_num_steps"])


def _entries(data, prefix: str) -> dict:
    return {k[len(prefix) :]: data[k] for k in data if k.startswith(prefix)}


def _update(worst: Worst, value: float, where: str, larger_is_worse: bool) -> None:
    if (value > worst.value) if larger_is_worse else (value < worst.value):
        worst.value, worst.where = value, where


def _per_mask(array: np.ndarray) -> np.ndarray:
    """View an output as a stack of 2-D masks (leading axes flattened)."""
    if array.ndim < 2:
        raise ValueError(f"expected masks with at least 2 dims, got shape {array.shape}")
    return array.reshape(-1, *array.shape[-2:])


def _compare_masks(rep, name, a, b, where, min_iou, max_mean_diff, as_logits):
    for index, (ma, mb) in enumerate(zip(_per_mask(a), _per_mask(b))):
        spot = f"{where} {name}[{index}]"
        rep.masks_compared += 1
        if as_logits:
            rep.logits_compared += 1
            iou = mask_iou(ma > 0, mb > 0)
            diff = np.abs(ma.astype(np.float64) - mb.astype(np.float64))
            mean_diff, max_diff = float(diff.mean()), float(diff.max())
            _update(rep.worst_mean_diff, mean_diff, spot, True)
            _update(rep.worst_max_diff, max_diff, spot, True)
            if not mean_diff <= max_mean_diff:  # also catches NaN
                rep.failures.append(f"{spot}: mean |logit diff| {mean_diff:.3e} > {max_mean_diff}")
        else:
            iou = mask_iou(ma > 0.5, mb > 0.5)
        _update(rep.worst_iou, iou, spot, False)
        if not iou >= min_iou:
            rep.failures.append(f"{spot}: IoU {iou:.5f} < {min_iou}")


def compare_recordings(
    path_a: Path | str,
    path_b: Path | str,
    min_iou: float = 0.99,
    max_mean_diff: float = 0.02,
    max_score_diff: float = 0.02,
) -> Report:
    """Compare recording ``path_b`` against ``path_a`` (the reference)."""
    with np.load(path_a) as a, np.load(path_b) as b:
        return compare_arrays(a, b, min_iou, max_mean_diff, max_score_diff)


def compare_arrays(
    a: Mapping,
    b: Mapping,
    min_iou: float = 0.99,
    max_mean_diff: float = 0.02,
    max_score_diff: float = 0.02,
) -> Report:
    """Compare two recordings' arrays (``b`` against the reference ``a``). Boolean arrays are
    thresholded masks, compared by IoU alone, whatever their name."""
    rep = Report()
    rep.seconds = tuple(
        float(d["meta_total_seconds"]) if "meta_total_seconds" in d else 0.0 for d in (a, b)
    )
    n_a, n_b = _steps(a), _steps(b)
    rep.steps = min(n_a, n_b)
    if n_a != n_b:
        rep.structure_errors.append(f"number of steps differs: {n_a} vs {n_b}")
    for i in range(rep.steps):
        prefix = f"step{i:03d}_"
        ea, eb = _entries(a, prefix), _entries(b, prefix)
        label = str(ea.get("label", "?"))
        where = f"step {i} ({label}, frame {int(ea.get('frame_idx', -1))})"
        for key in ("label", "frame_idx", "obj_ids"):
            va, vb = ea.get(key), eb.get(key)
            if va is None or vb is None or va.shape != vb.shape or not np.array_equal(va, vb):
                rep.structure_errors.append(f"{where}: {key} differs: {va!r} vs {vb!r}")
        outputs_a = set(ea) - set(INFO_KEYS)
        outputs_b = set(eb) - set(INFO_KEYS)
        if outputs_a != outputs_b:
            rep.structure_errors.append(
                f"{where}: outputs differ: {sorted(outputs_a)} vs {sorted(outputs_b)}"
            )
        for name in sorted(outputs_a & outputs_b):
            va, vb = ea[name], eb[name]
            if va.shape != vb.shape:
                rep.structure_errors.append(
                    f"{where}: {name} shape differs: {va.shape} vs {vb.shape}"
                )
                continue
            if name in SCORE_KEYS:
                diff = float(np.abs(va.astype(np.float64) - vb.astype(np.float64)).max(initial=0))
                _update(rep.worst_score_diff, diff, f"{where} {name}", True)
                if not diff <= max_score_diff:
                    rep.failures.append(f"{where}: {name} differ by {diff:.3e}")
            elif name in LOGIT_KEYS or name in MASK_KEYS:
                as_logits = name in LOGIT_KEYS and va.dtype != bool and vb.dtype != bool
                _compare_masks(rep, name, va, vb, where, min_iou, max_mean_diff, as_logits)
            else:
                rep.structure_errors.append(f"{where}: unknown output {name!r}")
    return rep


def _step_index(data) -> dict:
    """(label, frame index) -> step prefixes with that key."""
    index: dict = {}
    for i in range(_steps(data)):
        prefix = f"step{i:03d}_"
        key = (str(data[prefix + "label"]), int(data[prefix + "frame_idx"]))
        index.setdefault(key, []).append(prefix)
    return index


def compare_per_object(
    path_all: Path | str,
    paths_one: list,
    min_iou: float = 0.99,
    max_mean_diff: float = 0.02,
) -> Report:
    """Compare one-object recordings ``paths_one`` with the rows of their object in the
    all-objects recording ``path_all``. Steps of ``path_all`` no one-object run has (e.g.
    after a removal, or past a legacy predictor's stop) are not compared."""
    rep = Report()
    seconds_one = 0.0
    with np.load(path_all) as whole:
        index = _step_index(whole)
        for path in paths_one:
            with np.load(path) as one:
                obj = int(one["meta_only_object"])
                seconds_one += float(one["meta_total_seconds"])
                if obj < 0:
                    rep.structure_errors.append(f"{path} is not a one-object recording")
                    continue
                for i in range(_steps(one)):
                    prefix = f"step{i:03d}_"
                    rep.steps += 1
                    label, frame = str(one[prefix + "label"]), int(one[prefix + "frame_idx"])
                    where = f"object {obj} step {i} ({label}, frame {frame})"
                    matches = index.get((label, frame), [])
                    if len(matches) != 1:
                        rep.structure_errors.append(f"{where}: {len(matches)} matching steps in {path_all}")
                        continue
                    if prefix + "logits" not in one:
                        continue
                    match = matches[0]
                    ids_one, ids_all = list(one[prefix + "obj_ids"]), list(whole[match + "obj_ids"])
                    if ids_one != [obj] or obj not in ids_all or match + "logits" not in whole:
                        rep.structure_errors.append(f"{where}: objects {ids_one} vs {ids_all} in the match")
                        continue
                    row = whole[match + "logits"][ids_all.index(obj)]
                    _compare_masks(rep, "logits", one[prefix + "logits"], row[None], where,
                                   min_iou, max_mean_diff, as_logits=True)
        rep.seconds = (float(whole["meta_total_seconds"]), seconds_one)
    return rep


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference", help="the reference recording (--per-object: all objects)")
    parser.add_argument("candidate", nargs="+", help="recording(s) compared with it")
    parser.add_argument("--per-object", action="store_true", help="candidates are one-object runs")
    parser.add_argument("--min-iou", type=float, default=0.99)
    parser.add_argument("--max-mean-diff", type=float, default=0.02)
    args = parser.parse_args(argv)
    if args.per_object:
        rep = compare_per_object(args.reference, args.candidate, args.min_iou, args.max_mean_diff)
    elif len(args.candidate) == 1:
        rep = compare_recordings(args.reference, args.candidate[0], args.min_iou, args.max_mean_diff)
    else:
        parser.error("give one candidate, or --per-object")
    print(rep.summary())
    return 0 if rep.ok else 1


if __name__ == "__main__":
    sys.exit(main())
