"""SAM2Long's tracking: several hypotheses (pathways) per object, the best lineage at the end.

From the paper (Ding et al., "SAM2Long: Enhancing SAM 2 for Long Video Segmentation with a
Training-Free Memory Tree", arXiv 2410.16268) and the facts of its code, in our own words
(its code is CC BY-NC; see docs/design/sam2long-notes.md):

* Each object keeps ``num_pathway`` pathways. A pathway is a lineage of kept outputs, one
  per tracked frame, and a score: the sum of log(predicted IoU + 1e-5) of its masks.
* On a frame, every pathway attends to its own memory and the decoder gives three candidate
  masks; of the 3 x num_pathway candidates the best-scoring num_pathway live on. When no
  pathway is sure the object is there or not (every |object-score logit| is at most
  ``uncertainty``), candidates of equal signed IoU (to 2 decimals) are kept only once, and
  pathways left without a child get their best one, so the hypotheses stay diverse.
* A pathway's memory: the conditioning frames, then among its own frames the latest ones
  whose predicted IoU exceeds ``iou_thre`` and whose object is present (at most
  max_obj_ptrs_in_encoder - 1, nearest first), plus always the previous frame. The nearest
  num_maskmem - 1 of them are spatial memories in slots by rank; their pointers (all but the
  farthest) sit at distances by rank too. Keys are weighted 0.95..1.05 by the rank of the
  memories' object scores (conditioning frames count as 10), frames and pointers apart.
* The first tracked frame of a propagation takes SAM 2's best mask; all pathways start
  from it with score 0. When the propagation ends, the best pathway's lineage replaces the
  masks shown frame by frame (the predictor yields those frames again).

The official code tracks one object forward from a single prompted frame; here each object
of a session has its own pathways, in either direction, and every conditioning frame counts.
The official code also runs every pathway even when several hold the same history (as all do
while the model is sure of the object); here those are one branch, run once, with the same
results.
"""

import math
from dataclasses import dataclass, field, fields, replace
from typing import ClassVar, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

import torch

from ..modeling.memory_selection import KeyWeights, MemoryEntry, MemorySelection, closest_conditioning_frames
from ..modeling.sam2_base import Candidates, FrameFeatures, SAM2Base, StepRules, TrackOutput
from ..session.frame_outputs import FrameOutput
from .policy import Revisions, TrackingPolicy

# Object score that conditioning frames count with when keys are weighted.
CONDITIONING_SCORE = 10.0
# Range of the key weights, from the lowest object score to the highest.
KEY_WEIGHT_RANGE = (0.95, 1.05)
# Added to predicted IoUs before their log.
IOU_EPSILON = 1e-5
# Decimals of the signed IoUs that tell candidates apart when pathways are uncertain.
DISTINCT_IOU_DECIMALS = 2


@dataclass(frozen=True)
class Sam2LongSettings:
    """SAM2Long's settings, named as its inference-state keys; defaults are its documented
    commands' (``--num_pathway 3 --iou_thre 0.1 --uncertainty 2``)."""

    name: ClassVar[str] = "sam2long"
    title: ClassVar[str] = "SAM2Long"

    num_pathway: int = 3
    iou_thre: float = 0.1
    uncertainty: float = 2.0

    def __post_init__(self) -> None:
        if isinstance(self.num_pathway, bool) or not isinstance(self.num_pathway, int) or self.num_pathway < 1:
            raise ValueError(f"num_pathway must be a whole number of at least 1, got {self.num_pathway!r}")
        if not 0.0 <= self.iou_thre < 1.0:
            raise ValueError(f"iou_thre must be in [0, 1), got {self.iou_thre!r}")
        if not self.uncertainty >= 0.0:
            raise ValueError(f"uncertainty must be at least 0, got {self.uncertainty!r}")


@dataclass(eq=False)
class Branch:
    """One kept output of a pathway on a frame, linked to the one before it in its lineage."""

    frame_idx: int
    output: FrameOutput
    parent: Optional["Branch"]

    def lineage(self) -> Iterator["Branch"]:
        """This branch, then its ancestors (nearest first)."""
        branch: Optional[Branch] = self
        while branch is not None:
            yield branch
            branch = branch.parent

    def is_reliable(self, iou_threshold: float) -> bool:
        """Whether it may be memory beyond the previous frame: its mask's predicted IoU is
        above the threshold and the object was judged present."""
        return float(self.output.iou_score) > iou_threshold and float(self.output.object_score_logits) > 0


@dataclass
class Pathway:
    """A hypothesis: its newest branch (None before the first tracked frame) and its score."""

    tip: Optional[Branch]
    score: float = 0.0


@dataclass
class Sam2LongObject:
    """An object's pathways in the current propagation (best first) and the (1, 1, h, w) mask
    logits shown on each frame as it was tracked."""

    pathways: List[Pathway] = field(default_factory=list)
    shown: Dict[int, torch.Tensor] = field(default_factory=dict)


@dataclass(frozen=True)
class Candidate:
    """A pathway's candidate mask on a frame: (pathway, mask) indices and its scores."""

    pathway: int
    mask: int
    score: float
    signed_iou: float


def rank_weights(scores: Sequence[float]) -> torch.Tensor:
    """(n,) weights spread evenly over KEY_WEIGHT_RANGE in the order of ``scores`` (ties
    keep their order)."""
    order = torch.argsort(torch.tensor(scores, dtype=torch.float32), stable=True)
    weights = torch.empty(len(scores))
    weights[order] = torch.linspace(*KEY_WEIGHT_RANGE, len(scores))
    return weights


def lineage_memories(
    model: SAM2Base, frame_idx: int, cond_outputs: Mapping[int, MemoryEntry], tip: Optional[Branch], num_frames: int,
    reverse: bool, iou_threshold: float,
) -> MemorySelection:
    """The memories of a pathway whose newest branch is ``tip`` for tracking ``frame_idx``."""
    kept, _ = closest_conditioning_frames(frame_idx, cond_outputs, model.max_cond_frames_in_attn)
    limit = min(num_frames, model.max_obj_ptrs_in_encoder) - 1
    recent: List[Branch] = []  # nearest first
    if tip is not None:
        for branch in tip.lineage():
            if len(recent) >= limit:
                break
            if branch.is_reliable(iou_threshold):
                recent.append(branch)
        if not recent or recent[0] is not tip:
            recent.insert(0, tip)
    step = -1 if reverse else 1

    nearest = recent[: model.num_maskmem - 1]
    spatial = [(0, entry) for entry in kept.values()]
    spatial += [(model.num_maskmem - 1 - rank, branch.output) for rank, branch in reversed(list(enumerate(nearest)))]
    cond_pointers = [(abs(frame_idx - t), entry) for t, entry in kept.items() if (t - frame_idx) * step <= 0]
    pointers = cond_pointers + [(rank, recent[rank - 1].output) for rank in range(1, min(limit + 1, len(recent)))]

    selection = MemorySelection(spatial, pointers)
    if len(spatial) > 1:
        frame_scores = [CONDITIONING_SCORE] * len(kept) + [float(b.output.object_score_logits) for b in reversed(nearest)]
        pointer_scores = [CONDITIONING_SCORE] * len(cond_pointers) + [
            float(entry.object_score_logits) for _, entry in pointers[len(cond_pointers):]
        ]
        selection.key_weights = KeyWeights(rank_weights(frame_scores), rank_weights(pointer_scores))
    return selection


def surviving_candidates(
    scores: Sequence[float], iou_pred: torch.Tensor, object_score_logits: torch.Tensor, settings: Sam2LongSettings
) -> List[Candidate]:
    """The ``num_pathway`` candidates that live on, best first.

    scores: each pathway's score so far; iou_pred (P, M) its candidates' predicted IoUs;
    object_score_logits (P,) its object scores."""
    ious = iou_pred.float().tolist()
    logits = object_score_logits.float().flatten().tolist()
    candidates = [
        Candidate(p, j, scores[p] + math.log(iou + IOU_EPSILON), iou if logits[p] > 0 else -iou)
        for p, row in enumerate(ious) for j, iou in enumerate(row)
    ]
    ranked = sorted(candidates, key=lambda c: c.score, reverse=True)
    wanted = settings.num_pathway
    if max(abs(logit) for logit in logits) > settings.uncertainty:
        return ranked[:wanted]
    kept: List[Candidate] = []
    seen = set()
    for candidate in ranked:
        key = round(candidate.signed_iou, DISTINCT_IOU_DECIMALS)
        if key not in seen:
            seen.add(key)
            kept.append(candidate)
        if len(kept) == wanted:
            return kept
    for parent in range(len(scores)):
        if len(kept) == wanted:
            break
        if all(c.pathway != parent for c in kept):
            kept.append(next(c for c in ranked if c.pathway == parent))
    return kept


class Sam2LongPolicy(TrackingPolicy):
    """SAM2Long's pathways for each object (see the module's description)."""

    settings: Sam2LongSettings
    rules_of_step = StepRules(candidate_pointers=True)

    def new_object_state(self) -> Sam2LongObject:
        return Sam2LongObject()

    def start_tracking(self, objects: Sequence, start: int, reverse: bool) -> None:
        for obj in objects:
            obj.tracker_state = Sam2LongObject()

    def track(
        self, model: SAM2Base, frame_idx: int, features: FrameFeatures, objects: Sequence, num_frames: int,
        reverse: bool, storage_device: torch.device,
    ) -> TrackOutput:
        """Pathways that share their newest branch share their whole history (a branch is kept
        once per parent and mask): they are run once, and the candidates they keep in common
        become one branch again. While the model is sure of the object, all pathways are one."""
        pathways = [obj.tracker_state.pathways or [Pathway(None)] for obj in objects]
        tips: List[Optional[Branch]] = []  # the distinct newest branches: a batch row each
        selections: List[MemorySelection] = []
        rows_of_paths: List[List[int]] = []  # each object's pathways' batch rows
        for obj, paths in zip(objects, pathways):
            row_of_tip: Dict[int, int] = {}
            for pathway in paths:
                if id(pathway.tip) not in row_of_tip:
                    row_of_tip[id(pathway.tip)] = len(tips)
                    tips.append(pathway.tip)
                    selections.append(lineage_memories(
                        model, frame_idx, obj.cond_outputs, pathway.tip, num_frames, reverse, self.settings.iou_thre))
            rows_of_paths.append([row_of_tip[id(pathway.tip)] for pathway in paths])
        heads = model._forward_sam_heads(
            model.fuse_with_memories(features, selections, num_frames), high_res_features=features.high_res,
            multimask_output=True, rules=self.rules_of_step,
        )
        candidates = heads.candidates
        kept_per_object = [
            self._survivors(paths, torch.tensor(rows), candidates) for paths, rows in zip(pathways, rows_of_paths)
        ]
        picks = list(dict.fromkeys(
            (rows[c.pathway], c.mask) for rows, kept in zip(rows_of_paths, kept_per_object) for c in kept
        ))  # distinct (batch row, mask) kept, in order
        outputs = self._kept_outputs(model, features, candidates, picks, storage_device)
        branches = {pick: Branch(frame_idx, output, tips[pick[0]]) for pick, output in zip(picks, outputs)}

        best_picks = []
        for obj, paths, rows, kept in zip(objects, pathways, rows_of_paths, kept_per_object):
            state: Sam2LongObject = obj.tracker_state
            kept_branches = [branches[(rows[c.pathway], c.mask)] for c in kept]
            if paths[0].tip is None:  # the first tracked frame starts every pathway
                state.pathways = [Pathway(kept_branches[0]) for _ in range(self.settings.num_pathway)]
            else:
                state.pathways = [Pathway(branch, c.score) for branch, c in zip(kept_branches, kept)]
            state.shown[frame_idx] = kept_branches[0].output.pred_masks
            best_picks.append((rows[kept[0].pathway], kept[0].mask))
        return self._step_output(candidates, best_picks, [branches[pick].output for pick in best_picks])

    def _survivors(self, paths: List[Pathway], rows: torch.Tensor, candidates: Candidates) -> List[Candidate]:
        """The candidates an object's pathways keep; ``rows`` (P,) their batch rows."""
        if paths[0].tip is None:  # first tracked frame: SAM 2's best mask
            return [Candidate(0, int(candidates.iou_pred[rows[0]].argmax()), 0.0, 0.0)]
        return surviving_candidates(
            [p.score for p in paths], candidates.iou_pred[rows], candidates.object_score_logits[rows], self.settings
        )

    @staticmethod
    def _kept_outputs(
        model: SAM2Base, features: FrameFeatures, candidates: Candidates, picks: List[Tuple[int, int]],
        storage_device: torch.device,
    ) -> List[FrameOutput]:
        """The outputs of the kept (batch row, mask) candidates, their memories encoded together."""
        rows = torch.tensor([row for row, _ in picks])
        masks = torch.tensor([mask for _, mask in picks])
        object_scores = candidates.object_score_logits[rows]
        memory = model._encode_new_memory(
            features, candidates.high_res[rows, masks].unsqueeze(1), object_scores, is_mask_from_pts=False
        ).to(torch.bfloat16).to(storage_device)
        low_res = candidates.low_res[rows, masks].unsqueeze(1).to(storage_device)
        return [
            FrameOutput(
                pred_masks=low_res[k : k + 1].clone(), obj_ptr=candidates.obj_ptr[row, mask][None].clone(),
                object_score_logits=object_scores[k : k + 1].clone(), maskmem_features=memory[k : k + 1].clone(),
                iou_score=candidates.iou_pred[row, mask].reshape(1, 1).clone(),
            )
            for k, (row, mask) in enumerate(picks)
        ]

    @staticmethod
    def _step_output(candidates: Candidates, picks: List[Tuple[int, int]], best: List[FrameOutput]) -> TrackOutput:
        """The step's output: each object's best kept candidate, its (batch row, mask) and output."""

        def joined(name: str) -> torch.Tensor:  # one object's tensors are shared, not copied
            tensors = [getattr(output, name) for output in best]
            return tensors[0] if len(tensors) == 1 else torch.cat(tensors)

        return TrackOutput(
            pred_masks=joined("pred_masks"),
            pred_masks_high_res=candidates.high_res[[row for row, _ in picks], [mask for _, mask in picks]].unsqueeze(1),
            obj_ptr=joined("obj_ptr"), object_score_logits=joined("object_score_logits"),
            iou_score=joined("iou_score"), maskmem_features=joined("maskmem_features"),
        )

    def end_tracking(self, objects: Sequence, finished: bool) -> Revisions:
        revisions: Revisions = {}
        for row, obj in enumerate(objects):
            state = obj.tracker_state
            if not isinstance(state, Sam2LongObject) or not state.pathways:
                continue
            if finished and state.pathways[0].tip is not None:
                revised = {
                    branch.frame_idx: branch.output
                    for branch in state.pathways[0].tip.lineage()
                    if self._differs_from_shown(branch, state.shown.get(branch.frame_idx))
                }
                if revised:
                    revisions[row] = revised
            obj.tracker_state = Sam2LongObject()
        return revisions

    @staticmethod
    def _differs_from_shown(branch: Branch, shown: Optional[torch.Tensor]) -> bool:
        masks = branch.output.pred_masks
        return shown is None or (masks is not shown and not torch.equal(masks, shown))


def with_state_setting(policy: TrackingPolicy, key: str, value) -> Sam2LongPolicy:
    """The SAM2Long policy with one setting written as its scripts write them into the
    inference state (``num_pathway``, ``iou_thre``, ``uncertainty``); its other settings are
    ``policy``'s when that is SAM2Long's, else the defaults."""
    names = [f.name for f in fields(Sam2LongSettings)]
    if key not in names:
        raise KeyError(f"the inference state only takes SAM2Long's settings ({', '.join(names)}), not {key!r}")
    settings = policy.settings if isinstance(policy.settings, Sam2LongSettings) else Sam2LongSettings()
    return Sam2LongPolicy(replace(settings, **{key: value}))
