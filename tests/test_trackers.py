"""Tracking policies chosen per session: names and settings, SAMURAI's config keys, the
motion filter, SAMURAI's candidate choice, and sessions of one predictor with different
trackers (parity with the official codes: test_tracker_parity.py)."""

import pickle

from conftest import synthetic_frames

import numpy as np
import pytest
import torch

from sam2.build_sam import build_sam2, build_sam2_video_predictor
from sam2.modeling.sam2_base import Candidates
from sam2.tracking import (Dam4samSettings, Sam2Settings, SamuraiSettings, UnknownTrackerError, make_tracker,
                           tracker_settings)
from sam2.tracking.motion import EMPTY_BOX, BoxFilter, box_iou, box_of_mask

SAMURAI_KEYS = """  samurai_mode: true
  stable_frames_threshold: 15
  stable_ious_threshold: 0.3
  min_obj_score_logits: -1
  kf_score_weight: 0.25
  memory_bank_iou_threshold: 0.5
  memory_bank_obj_score_threshold: 0.0
  memory_bank_kf_score_threshold: 0.0
"""


def test_trackers_by_name_and_settings():
    assert make_tracker().name == "sam2"
    assert make_tracker("SAMURAI").settings == SamuraiSettings()
    assert make_tracker(SamuraiSettings(kf_score_weight=0.1)).settings.kf_score_weight == 0.1
    assert tracker_settings(Sam2Settings()) == Sam2Settings()
    with pytest.raises(UnknownTrackerError, match="unknown tracker 'samurail'; known: sam2, samurai, dam4sam, sam2long"):
        make_tracker("samurail")
    with pytest.raises(UnknownTrackerError, match="not the settings of a known tracker"):
        make_tracker({"kf_score_weight": 0.1})


def test_samurai_yaml_keys_choose_the_tracker(reference_sam2, tmp_path):
    official = (reference_sam2.pkg_dir / "sam2" / "configs/sam2.1/sam2.1_hiera_t.yaml").read_text()
    config = tmp_path / "samurai_hiera_t.yaml"
    config.write_text(official.rstrip("\n") + "\n" + SAMURAI_KEYS)
    predictor = build_sam2_video_predictor(str(config), device="cpu")
    assert predictor.tracker == SamuraiSettings()
    state = predictor.init_state(np.zeros((2, 64, 64, 3), np.uint8))
    assert state.tracker.name == "samurai"
    assert type(build_sam2(str(config), device="cpu")).__name__ == "SAM2Base"
    config.write_text(official.rstrip("\n") + "\n" + SAMURAI_KEYS.replace("samurai_mode: true", "samurai_mode: false"))
    assert build_sam2_video_predictor(str(config), device="cpu").tracker == Sam2Settings()


def test_samurai_overrides_take_the_code_defaults():
    predictor = build_sam2_video_predictor(
        "sam2.1_hiera_t", device="cpu",
        hydra_overrides_extra=["++model.samurai_mode=true", "++model.memory_bank_iou_threshold=0.6"],
    )
    assert predictor.tracker == SamuraiSettings(kf_score_weight=0.15, memory_bank_iou_threshold=0.6)
    with pytest.raises(ValueError, match="set samurai_mode=true"):
        build_sam2_video_predictor("sam2.1_hiera_t", device="cpu", hydra_overrides_extra=["++model.kf_score_weight=0.2"])
    with pytest.raises(ValueError, match="unsupported override key 'samurai'"):
        build_sam2_video_predictor("sam2.1_hiera_t", device="cpu", hydra_overrides_extra=["++model.samurai=true"])


def test_box_of_mask_and_box_iou():
    logits = torch.full((10, 12), -1.0)
    logits[2:5, 3:9] = 1.0
    assert box_of_mask(logits) == (3.0, 2.0, 8.0, 4.0)
    assert box_of_mask(torch.full((4, 4), -1.0)) == EMPTY_BOX
    assert box_iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert box_iou((0, 0, 10, 10), EMPTY_BOX) == 0.0


def test_motion_filter_learns_a_constant_velocity():
    box_filter = BoxFilter.start((0, 40, 20, 60))
    for t in range(1, 20):
        box_filter.predict()
        box_filter.correct((6 * t, 40, 6 * t + 20, 60))
    box_filter.predict()
    expected = box_filter.expected_box()
    assert expected == pytest.approx((120, 40, 140, 60), abs=1.0)
    assert box_filter.mean[4] == pytest.approx(6.0, abs=0.3)


def _disc_candidates(centres, ious, size=64):
    """Candidates whose masks are 8x8 squares at the given (x, y) centres."""
    high = torch.full((1, len(centres), size, size), -5.0)
    for index, (x, y) in enumerate(centres):
        high[0, index, y - 4 : y + 4, x - 4 : x + 4] = 5.0
    return Candidates(high[:, :, ::4, ::4], high, torch.tensor([ious]), torch.tensor([[5.0]]))


def test_samurai_prefers_the_candidate_where_the_motion_leads():
    policy = make_tracker(SamuraiSettings(stable_frames_threshold=5, kf_score_weight=0.25))
    track = policy.new_object_state()

    class Obj:
        tracker_state = track

    for t in range(8):  # a square moving 3 px a frame to the right, always the best candidate
        choose = policy.rules(None, t, False, [Obj]).choose
        assert int(choose(_disc_candidates([(10 + 3 * t, 30), (50, 50)], [0.9, 0.5]))[0]) == 0
    assert track.steady_frames == 5 and sorted(track.motion_scores) == [5, 6, 7]  # motion scores from the 6th
    # Frame 8: a look-alike far away scores a little higher; the motion keeps the right one.
    choose = policy.rules(None, 8, False, [Obj]).choose
    assert int(choose(_disc_candidates([(34, 30), (50, 50)], [0.80, 0.85]))[0]) == 0
    assert track.motion_scores[8] > 0.5
    # SAM 2's own rule takes the higher predicted IoU.
    assert make_tracker("sam2").rules(None, 8, False, [Obj]).choose is None
    # A jump (not the next frame) restarts the filter from the best candidate.
    choose = policy.rules(None, 20, False, [Obj]).choose
    assert int(choose(_disc_candidates([(34, 30), (50, 50)], [0.80, 0.85]))[0]) == 1
    assert track.steady_frames == 1


def test_sessions_of_one_predictor_keep_their_own_tracker(tmp_path):
    predictor = build_sam2_video_predictor("sam2.1_hiera_t", device="cpu", hydra_overrides_extra=["++model.image_size=256"])
    video = np.random.default_rng(0).integers(0, 255, (4, 64, 64, 3), dtype=np.uint8)
    plain, samurai = predictor.init_state(video), predictor.init_state(video, tracker="samurai")
    assert (plain.tracker.name, samurai.tracker.name, predictor.tracker) == ("sam2", "samurai", Sam2Settings())
    for state in (plain, samurai):
        predictor.add_new_points_or_box(state, 0, 1, points=[[32, 32]], labels=[1])
        list(predictor.propagate_in_video(state))
    assert plain.objects[0].tracker_state is None
    track = samurai.objects[0].tracker_state
    assert track.last_frame == 3 and track.box_filter is not None
    copy = pickle.loads(pickle.dumps(samurai))
    assert copy.tracker.settings == SamuraiSettings()
    assert np.array_equal(copy.objects[0].tracker_state.box_filter.mean, track.box_filter.mean)
    with pytest.raises(UnknownTrackerError):
        predictor.init_state(video, tracker="nope")


class _Entry:
    """A stored frame for memory selection: visible unless ``absent``."""

    def __init__(self, frame: int, absent: bool = False) -> None:
        self.frame = frame
        self.pred_masks = torch.full((1, 1, 4, 4), -1.0 if absent else 1.0)


class _Model:
    num_maskmem, max_obj_ptrs_in_encoder = 7, 16


def test_dam4sam_memories_follow_its_drm_and_ram_rules():
    policy = make_tracker("dam4sam")
    memory = policy.new_object_state()
    cond = {t: _Entry(t) for t in (0, 30, 40, 50, 57)}
    non_cond = {t: _Entry(t, absent=t == 55) for t in range(1, 60) if t not in cond}
    selection = policy._memories(_Model, memory, 60, cond, non_cond, 100, False)
    drm = [entry.frame for slot, entry in selection.spatial if slot == 0]
    ram = {entry.frame: slot for slot, entry in selection.spatial if slot > 0}
    assert drm == [57, 0, 50, 40]  # the latest before the previous frame, the first, then the nearest
    assert ram == {59: 6, 45: 5, 35: 4}  # previous; a grid of 5 skipping absent 55 and attended DRM 50 and 40
    distances = [distance for distance, _ in selection.pointers]
    assert distances[:3] == [3, 60, 10] and 20 in distances  # attended DRM frames, at unsigned distances
    # then the latest 15 frames but absent 55 and the attended DRM frames (57, 50: theirs above)
    assert distances[4:] == [d for d in range(1, 16) if d not in (3, 5, 10)]
    plain = policy._memories(_Model, memory, 20, {0: _Entry(0)}, {t: _Entry(t) for t in range(1, 20)}, 100, False)
    assert {entry.frame: slot for slot, entry in plain.spatial} == {0: 0, 19: 6, 15: 5, 10: 4, 5: 3}


def test_dam4sam_adds_a_distractor_frame_to_the_drm_and_retracking_judges_it_again(tiny_predictor):
    predictor = tiny_predictor
    video = np.stack(synthetic_frames(14))
    eager = Dam4samSettings(drm_min_iou=0.0, drm_area_ratio=(0.0, 1e9), distractor_box_iou=1.0)
    state = predictor.init_state(video, tracker=eager)
    predictor.add_new_points_or_box(state, 0, 1, box=[10, 10, 40, 40])
    list(predictor.propagate_in_video(state))
    memory = state.objects[0].tracker_state
    assert memory.added, "no frame judged to have a distractor with every gate open"
    assert all(b - a > eager.drm_min_gap for a, b in zip(memory.added, memory.added[1:]))
    for frame in memory.added:
        output = state.objects[0].cond_outputs[frame]
        assert frame not in state.objects[0].non_cond_outputs and output.maskmem_features is not None
    assert predictor.prompted_frames(state) == [0]  # added frames are memory, not prompts
    assert len(memory.added) >= 2
    first, later = memory.added[0], memory.added[1:]
    list(predictor.propagate_in_video(state, start_frame_idx=first, max_frame_num_to_track=0))
    # A new propagation from `first` judges the frames from there again: the later ones left the DRM.
    assert not [frame for frame in memory.added if frame > first]
    assert all(frame not in state.objects[0].cond_outputs for frame in later)


def test_a_dam4sam_config_file_chooses_dam4sam_with_its_memory_settings(reference_sam2, tmp_path):
    official = (reference_sam2.pkg_dir / "sam2" / "configs/sam2.1/sam2.1_hiera_t.yaml").read_text()
    changes = ("  memory_temporal_stride_for_eval: 5\n  max_cond_frames_in_attn: 4\n"
               "  add_all_frames_to_correct_as_cond: True\n  non_overlap_masks: false\n")
    text = official.rstrip("\n").replace("multimask_max_pt_num: 1", "multimask_max_pt_num: 3") + "\n" + changes
    config = tmp_path / "sam21pp_hiera_t.yaml"
    config.write_text(text)
    predictor = build_sam2_video_predictor(str(config), device="cpu")
    assert predictor.tracker == Dam4samSettings(ram_stride=5, drm_size=4)
    assert (predictor.multimask_max_pt_num, predictor.add_all_frames_to_correct_as_cond) == (3, True)
    # The same keys in a file of another name are SAM 2's: its stride is not built here.
    other = tmp_path / "my_hiera_t.yaml"
    other.write_text(text)
    with pytest.raises(ValueError, match="memory_temporal_stride_for_eval = 5"):
        build_sam2_video_predictor(str(other), device="cpu")


def test_dam4sam_tracker_names_find_their_weights_in_checkpoints_or_on_the_hub(tmp_path, monkeypatch):
    from sam2 import dam4sam_tracker as frame_api
    from sam2.assembly.hub import hub_checkpoint

    hubs = {name: hub_checkpoint(model_id) for name, model_id in frame_api.TRACKER_MODELS.items()}
    assert hubs["sam21pp-L"].local_name == "sam2.1_hiera_large.pt" and hubs["sam2pp-T"].config.endswith("sam2_hiera_t.yaml")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(frame_api, "download", lambda hub: f"hub:{hub.filename}")
    assert frame_api._find_checkpoint(hubs["sam21pp-T"], None) == "hub:sam2.1_hiera_tiny.pt"
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "sam2.1_hiera_tiny.pt").touch()
    assert frame_api._find_checkpoint(hubs["sam21pp-T"], None) == "checkpoints/sam2.1_hiera_tiny.pt"
    assert frame_api._find_checkpoint(hubs["sam21pp-T"], "mine.pt") == "mine.pt"
    with pytest.raises(ValueError, match="unknown tracker 'sam21pp-XL'"):
        frame_api.DAM4SAMTracker("sam21pp-XL")
