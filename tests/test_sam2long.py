"""SAM2Long's pathways: which candidates live on, each pathway's memory and key weights, and the
best lineage replacing the masks shown once a propagation ends (parity with the official
code: test_tracker_parity.py)."""

import pickle
from dataclasses import replace

from conftest import synthetic_frames

import numpy as np
import pytest
import torch

from sam2.assembly.configs import PRESETS
from sam2.assembly.model_builder import build_model
from sam2.assembly.random_weights import make_masks_informative
from sam2.sam2_video_predictor import SAM2VideoPredictor
from sam2.tracking import Sam2LongSettings, make_tracker
from sam2.tracking.sam2long import Branch, lineage_memories, rank_weights, surviving_candidates


def kept(scores, ious, logits, **settings):
    chosen = surviving_candidates(scores, torch.tensor(ious), torch.tensor(logits), Sam2LongSettings(**settings))
    return [(c.pathway, c.mask) for c in chosen]


def test_confident_pathways_keep_the_best_scores_even_from_one_parent():
    ious = [[0.9, 0.8, 0.1], [0.5, 0.4, 0.3], [0.2, 0.2, 0.2]]
    assert kept([0.0, 0.0, 0.0], ious, [5.0, 1.0, 1.0]) == [(0, 0), (0, 1), (1, 0)]
    # the running score counts: a pathway far behind loses even with a better mask now
    assert kept([0.0, -3.0, 0.0], ious, [5.0, 1.0, 1.0]) == [(0, 0), (0, 1), (2, 0)]
    assert kept([0.0], [[0.3, 0.9, 0.6]], [9.0], num_pathway=1) == [(0, 1)]


def test_uncertain_pathways_keep_distinct_hypotheses_and_every_parent_a_child():
    ious = [[0.901, 0.899, 0.5], [0.9, 0.7, 0.1], [0.2, 0.2, 0.2]]
    # every |object score| <= 2: equal signed IoUs (to 2 decimals) are kept once
    assert kept([0.0, 0.0, 0.0], ious, [1.0, 1.0, -1.5]) == [(0, 0), (1, 1), (0, 2)]
    # an absent object's IoU counts negative: same IoU, other hypothesis
    assert kept([0.0, 0.0, 0.0], ious, [1.0, -1.0, 1.0]) == [(0, 0), (1, 0), (1, 1)]
    # too few distinct values: parents without a child add their best candidate, in order
    same = [[0.5, 0.5, 0.5]] * 3
    assert kept([0.0, -0.1, -0.2], same, [0.5, 0.5, 0.5]) == [(0, 0), (1, 0), (2, 0)]
    # one confident pathway is enough to skip the diversity rule
    assert kept([0.0, 0.0, 0.0], ious, [1.0, 2.5, 1.0]) == [(0, 0), (1, 0), (0, 1)]


def test_rank_weights_spread_over_the_range_by_object_score():
    assert torch.allclose(rank_weights([10.0, -1.0, 3.0]), torch.tensor([1.05, 0.95, 1.0]))
    assert torch.allclose(rank_weights([10.0]), torch.tensor([0.95]))
    assert torch.allclose(rank_weights([2.0, 2.0]), torch.tensor([0.95, 1.05]))  # ties keep their order


class _Output:
    def __init__(self, frame: int, iou: float = 0.9, score: float = 3.0) -> None:
        self.frame = frame
        self.iou_score = torch.tensor([[iou]])
        self.object_score_logits = torch.tensor([[score]])


class _Model:
    num_maskmem, max_obj_ptrs_in_encoder, max_cond_frames_in_attn = 7, 16, -1


def _lineage(first: int, last: int, unreliable=(), absent=()) -> Branch:
    tip = None
    for t in range(first, last + 1):
        output = _Output(t, iou=0.05 if t in unreliable else 0.9, score=-2.0 if t in absent else 3.0 + t / 100)
        tip = Branch(t, output, tip)
    return tip


def test_a_pathway_remembers_its_reliable_frames_by_rank():
    cond = {0: _Output(0)}
    tip = _lineage(1, 29, unreliable={27, 28}, absent={29, 25})
    selection = lineage_memories(_Model, 30, cond, tip, 100, False, 0.1)
    spatial = [(slot, entry.frame) for slot, entry in selection.spatial]
    # the previous frame always, though absent; then reliable frames, nearest first, by rank
    assert spatial == [(0, 0), (1, 21), (2, 22), (3, 23), (4, 24), (5, 26), (6, 29)]
    pointers = [(distance, entry.frame) for distance, entry in selection.pointers]
    assert pointers[0] == (30, 0)
    # 15 reliable frames plus the previous one: the farthest (frame 11) gives no pointer
    assert [frame for _, frame in pointers[1:]] == [29, 26, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12]
    assert [distance for distance, _ in pointers[1:]] == list(range(1, 16))
    weights = selection.key_weights
    assert weights.spatial[0] == pytest.approx(1.05) and weights.spatial[-1] == pytest.approx(0.95)  # cond; absent 29
    assert weights.pointers[0] == pytest.approx(1.05) and weights.pointers[1] == pytest.approx(0.95)


def test_the_first_steps_of_a_pathway_attend_without_key_weights():
    cond = {0: _Output(0)}
    first = lineage_memories(_Model, 1, cond, None, 100, False, 0.1)
    assert [entry.frame for _, entry in first.spatial] == [0] and first.key_weights is None
    second = lineage_memories(_Model, 2, cond, _lineage(1, 1), 100, False, 0.1)
    assert [(slot, entry.frame) for slot, entry in second.spatial] == [(0, 0), (6, 1)]
    assert [entry.frame for _, entry in second.pointers] == [0]  # a one-frame list gives no pointer
    assert second.key_weights.pointers.tolist() == pytest.approx([0.95])
    backwards = lineage_memories(_Model, 8, {10: _Output(10)}, _lineage(9, 9), 100, True, 0.1)
    assert [(distance, entry.frame) for distance, entry in backwards.pointers] == [(2, 10)]


def test_settings_are_checked():
    assert make_tracker("sam2long").settings == Sam2LongSettings(3, 0.1, 2.0)
    for bad in (dict(num_pathway=0), dict(iou_thre=1.0), dict(uncertainty=-1.0), dict(num_pathway=2.5)):
        with pytest.raises(ValueError):
            Sam2LongSettings(**bad)


def test_sam2long_state_keys_choose_it_as_its_scripts_do(tiny_predictor):
    state = tiny_predictor.init_state(np.stack(synthetic_frames(2)))
    state["num_pathway"], state["iou_thre"], state["uncertainty"] = 2, 0.3, 1
    assert state.tracker.settings == Sam2LongSettings(2, 0.3, 1)
    with pytest.raises(KeyError, match="only takes SAM2Long's settings"):
        state["num_frames"] = 3
    with pytest.raises(ValueError):
        state["num_pathway"] = 0
    assert state.tracker.settings.num_pathway == 2


def _track(predictor, video, settings=Sam2LongSettings()):
    state = predictor.init_state(video, tracker=settings)
    predictor.add_new_points_or_box(state, 0, 1, box=[8, 8, 30, 30])
    predictor.add_new_points_or_box(state, 0, 2, points=[[50, 30]], labels=[1])
    return state


def test_the_best_lineage_replaces_the_masks_shown_when_the_run_ends(tiny_predictor, sam2long_revises_frames_2_to_4):
    predictor = tiny_predictor
    video = np.stack(synthetic_frames(6))
    state = _track(predictor, video)
    yielded = [(frame_idx, masks.clone()) for frame_idx, _, masks in predictor.propagate_in_video(state)]
    assert [frame for frame, _ in yielded] == [0, 1, 2, 3, 4, 5, 2, 3, 4]
    shown, revised = yielded[2][1], yielded[6][1]
    assert not torch.equal(shown, revised)
    stored = state.objects[0].non_cond_outputs[2].pred_masks
    expected = torch.nn.functional.interpolate(stored, size=revised.shape[-2:], mode="bilinear", align_corners=False)
    assert torch.equal(revised[0:1], expected)
    assert all(obj.tracker_state.pathways == [] for obj in state.objects)  # lineages dropped at the end
    pickle.dumps(state)


def test_a_stopped_run_keeps_what_it_showed(tiny_predictor):
    predictor = tiny_predictor
    state = _track(predictor, np.stack(synthetic_frames(6)), Sam2LongSettings(uncertainty=100.0))
    frames = predictor.propagate_in_video(state)
    shown = [next(frames) for _ in range(4)]
    frames.close()
    assert [frame for frame, _, _ in shown] == [0, 1, 2, 3]
    assert all(obj.tracker_state.pathways == [] for obj in state.objects)
    assert sorted(state.objects[0].non_cond_outputs) == [1, 2, 3]
    again = [frame for frame, _, _ in predictor.propagate_in_video(state)]
    assert again[:6] == [0, 1, 2, 3, 4, 5]


@pytest.mark.parametrize("pathways", [1, 3])
def test_pathways_track_several_objects_of_a_session(tiny_predictor, pathways):
    predictor = tiny_predictor
    state = _track(predictor, np.stack(synthetic_frames(5)), Sam2LongSettings(num_pathway=pathways, uncertainty=100.0))
    frames = {}
    for frame_idx, obj_ids, masks in predictor.propagate_in_video(state):
        assert obj_ids == [1, 2] and masks.shape[:2] == (2, 1)
        frames[frame_idx] = masks
    assert sorted(frames) == [0, 1, 2, 3, 4]
    for obj in state.objects:
        assert all(obj.non_cond_outputs[t].maskmem_features is not None for t in range(1, 5))


@pytest.mark.parametrize("family", ["edgetam", "efficienttam_ti_2"])
def test_pathways_work_with_the_lighter_models(family):
    """EdgeTAM's memories are perceiver latents and EfficientTAM's are pooled into landmarks:
    keys are weighted per stored frame all the same."""
    torch.manual_seed(0)
    predictor = build_model(replace(PRESETS[family], image_size=256), SAM2VideoPredictor).eval()
    make_masks_informative(predictor)
    state = _track(predictor, np.stack(synthetic_frames(5)), Sam2LongSettings(uncertainty=100.0))
    frames = [frame_idx for frame_idx, _, masks in predictor.propagate_in_video(state)]
    assert frames[:5] == [0, 1, 2, 3, 4] and set(frames[5:]) <= {1, 2, 3}
    assert all(state.objects[0].non_cond_outputs[t].maskmem_features is not None for t in range(1, 5))


def test_pathways_with_one_history_are_run_once(tiny_predictor, monkeypatch):
    """While every pathway keeps the same candidate (the model is sure), they are one branch:
    one row per object in memory attention and the decoder, not num_pathway."""
    predictor = tiny_predictor
    rows = []
    fuse = predictor.fuse_with_memories
    monkeypatch.setattr(predictor, "fuse_with_memories",
                        lambda features, selections, *args: rows.append(len(selections)) or fuse(features, selections, *args))
    sure = _track(predictor, np.stack(synthetic_frames(6)), Sam2LongSettings(uncertainty=0.0))
    list(predictor.propagate_in_video(sure))
    assert rows == [2] * 5
    rows.clear()
    unsure = _track(predictor, np.stack(synthetic_frames(6)), Sam2LongSettings(uncertainty=100.0))
    list(predictor.propagate_in_video(unsure))
    assert rows[0] == 2 and max(rows) == 6  # three distinct hypotheses per object once they part
