"""EdgeTAM's and EfficientTAM's parts in our engine, on tiny random-weights models: the
perceiver's windows, landmark pooling, RepViT folding, batched tracking of several objects."""

import math

import numpy as np

import pytest
import torch
import torch.nn.functional as F

from conftest import synthetic_frames
from sam2.assembly.configs import PRESETS, config_name, with_image_size
from sam2.assembly.model_builder import build_model
from sam2.assembly.random_weights import make_masks_informative
from sam2.modeling.attention import RotaryLayout
from sam2.modeling.attention_kernels import chunked, fused
from sam2.modeling.memory_pooling import LANDMARK_KEY_SHIFT, LANDMARK_SCORE_SHIFT, LandmarkPooling
from sam2.modeling.perceiver import SpatialPerceiver
from sam2.sam2_video_predictor import SAM2VideoPredictor


@pytest.mark.parametrize("given, expected", [
    ("configs/edgetam.yaml", "edgetam"),
    ("edgetam.yaml", "edgetam"),
    ("configs/efficienttam/efficienttam_s.yaml", "efficienttam_s"),
    ("configs/efficienttam/efficienttam_ti_512x512.yaml", "efficienttam_ti_512x512"),
    ("efficienttam_s_2", "efficienttam_s_2"),
])
def test_official_config_names_of_the_family(given, expected):
    assert config_name(given) == expected


def test_family_presets_follow_the_official_configs():
    edgetam = PRESETS["edgetam"]
    assert edgetam.memory_attention_layers == 2 and edgetam.spatial_perceiver is not None and not edgetam.is_v21
    assert PRESETS["efficienttam_s_512x512"].image_size == 512
    assert not PRESETS["efficienttam_ti"].high_res_features
    assert PRESETS["efficienttam_s_1"].landmark_shift == LANDMARK_SCORE_SHIFT
    assert PRESETS["efficienttam_ti_2"].landmark_shift == LANDMARK_KEY_SHIFT
    assert PRESETS["efficienttam_s"].landmark_shift is None


def test_perceiver_grid_latents_see_only_their_window():
    torch.manual_seed(0)
    perceiver = SpatialPerceiver(16, global_latents=4, grid_latents=16, head_dim=16).eval()
    features, encoding = torch.randn(1, 16, 8, 8), torch.randn(1, 16, 8, 8)
    changed = features.clone()
    changed[0, :, 2:4, 6:8] = torch.randn(16, 2, 2)  # the window in grid row 1, column 3
    with torch.inference_mode():
        before, after = perceiver(features, encoding), perceiver(changed, encoding)
    moved = (before - after).abs().amax(dim=-1)[0] > 1e-6
    assert moved[:4].all(), "every global latent attends to the whole frame"
    assert moved[4:].nonzero().flatten().tolist() == [1 * 4 + 3]
    assert before.shape == (1, 4 + 16, 16)


def test_perceiver_encoding_is_zero_for_global_latents_and_the_grid_cells_for_the_others():
    perceiver = SpatialPerceiver(16, global_latents=4, grid_latents=16, head_dim=16)
    encoding = perceiver.token_encoding(torch.device("cpu"))[0]
    assert encoding.shape == (20, 16) and not encoding[:4].any()
    grid = perceiver.position_encoding.grid(4, 4, torch.device("cpu"))
    torch.testing.assert_close(encoding[4:].reshape(4, 4, 16), grid.permute(1, 2, 0))
    assert perceiver.rotary_layout == RotaryLayout((4, 4), unrotated=4)


def test_perceiver_input_size_must_split_into_its_windows():
    with pytest.raises(ValueError, match="multiple of 64 for test_tiny_perceiver"):
        build_model(with_image_size(PRESETS["test_tiny_perceiver"], 96))


def _tracked_logits(predictor, clicks):
    """Mask logits (frames, objects, H, W) of a session prompted with one click per object on frame 0."""
    with torch.inference_mode():
        state = predictor.init_state(synthetic_frames(5))
        for obj_id, point in clicks.items():
            predictor.add_new_points_or_box(state, 0, obj_id, points=[point], labels=[1])
        return torch.stack([masks[:, 0] for _, _, masks in predictor.propagate_in_video(state)])


@pytest.mark.parametrize("preset", ["test_tiny_perceiver", "test_tiny_vit"])
def test_objects_tracked_together_equal_objects_tracked_alone(preset):
    """EdgeTAM's official predictor fails with two objects; ours batches any number, and each
    object's results are those it gets alone."""
    torch.manual_seed(1)
    predictor = build_model(PRESETS[preset], SAM2VideoPredictor)
    make_masks_informative(predictor, seed=1)
    predictor.eval()
    clicks = {1: [20, 20], 2: [45, 30], 3: [10, 40]}
    together = _tracked_logits(predictor, clicks)
    assert together.shape == (5, 3, 48, 64) and 0.05 < (together > 0).float().mean() < 0.95
    assert (together[1:, 0] - together[1:, 1]).abs().mean() > 0.01  # the objects' memories differ
    for index, (obj_id, point) in enumerate(clicks.items()):
        alone = _tracked_logits(predictor, {obj_id: point})[:, 0]
        torch.testing.assert_close(alone, together[:, index], rtol=1e-4, atol=1e-4)


def test_perceiver_memories_are_stored_as_latents():
    torch.manual_seed(0)
    predictor = build_model(PRESETS["test_tiny_perceiver"], SAM2VideoPredictor).eval()
    with torch.inference_mode():
        state = predictor.init_state(synthetic_frames(3))
        predictor.add_new_points_or_box(state, 0, 1, points=[[20, 20]], labels=[1])
        list(predictor.propagate_in_video(state))
    memory = state.objects[0].non_cond_outputs[2].maskmem_features
    assert memory.shape == (1, 8 + 16, 16) and memory.dtype == torch.bfloat16


def test_single_level_model_decodes_without_high_resolution_features():
    predictor = build_model(PRESETS["test_tiny_vit"], SAM2VideoPredictor).eval()
    assert not hasattr(predictor.sam_mask_decoder, "conv_s0")
    with torch.inference_mode():
        features = predictor.frame_features(torch.randn(1, 3, 128, 128))
    assert features.high_res == [] and features.vision.shape == (1, 32, 8, 8)


def _grids(tokens, frames, side):
    return tokens[:, : frames * side * side].reshape(-1, side, side, tokens.shape[-1])


@pytest.mark.parametrize("shift", [LANDMARK_SCORE_SHIFT, LANDMARK_KEY_SHIFT])
def test_landmarks_are_cell_averages_of_each_frame(shift):
    torch.manual_seed(0)
    pooling, layout, pointers = LandmarkPooling(shift), RotaryLayout((4, 4)), 3
    keys = torch.randn(2, 3 * 16 + pointers, 8)
    pooled = pooling.pooled_keys(keys, layout, pointers)
    averaged = F.avg_pool2d(_grids(keys, 3, 4).permute(0, 3, 1, 2), 2).permute(0, 2, 3, 1).reshape(2, 12, 8)
    if shift == LANDMARK_KEY_SHIFT:
        averaged = averaged + math.log(4)
    torch.testing.assert_close(pooled[:, :12], averaged)
    torch.testing.assert_close(pooled[:, 12:], keys[:, -pointers:])
    assert pooling.applies(3 * 16, (4, 4)) and not pooling.applies(16, (4, 4))


@pytest.mark.parametrize("kernel", [fused, chunked])
def test_a_landmark_with_its_score_shift_weighs_as_the_four_tokens_it_stands_for(kernel):
    """softmax(s + log 4) over a landmark = softmax over four copies of it."""
    torch.manual_seed(0)
    pooling, pointers = LandmarkPooling(LANDMARK_SCORE_SHIFT), 2
    landmarks, values = torch.randn(1, 1, 6 + pointers, 16), torch.randn(1, 1, 6 + pointers, 16)
    queries = torch.randn(1, 1, 5, 16)
    bias = pooling.score_bias(values[0], pointers)
    copies = lambda x: torch.cat([x[:, :, :6].repeat_interleave(4, dim=2), x[:, :, 6:]], dim=2)
    torch.testing.assert_close(
        kernel(queries, landmarks, values, bias), fused(queries, copies(landmarks), copies(values)),
        rtol=1e-5, atol=1e-5,
    )


def test_repvit_folded_inference_equals_timm_modules():
    pytest.importorskip("timm")
    torch.manual_seed(0)
    encoder = build_model(PRESETS["edgetam"]).image_encoder
    trunk = encoder.trunk.eval()
    with torch.no_grad():
        for module in trunk.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.normal_(0, 0.1)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.normal_(1, 0.1)
                module.bias.normal_(0, 0.1)
    images = torch.randn(1, 3, 128, 128)
    with torch.inference_mode():
        folded = trunk(images)
        plain = trunk.body(images)
    assert [f.shape[1] for f in folded] == [48, 96, 192, 384]
    for ours, theirs in zip(folded, plain):
        torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-4)


@pytest.fixture(scope="module")
def family_checkpoints(tmp_path_factory):
    """Random weights of EdgeTAM and EfficientTAM-Ti 512 in the official format."""
    from sam2.assembly.random_weights import save_random_checkpoint

    folder = tmp_path_factory.mktemp("family")
    return {name: save_random_checkpoint(name, str(folder / f"{name}.pt")) for name in ("edgetam", "efficienttam_ti_512x512")}


def test_family_hub_builders_download_from_where_the_weights_are(family_checkpoints, monkeypatch):
    import huggingface_hub

    from sam2.build_sam import build_sam2_video_predictor_hf

    requested = []

    def fake_download(repo_id, filename, repo_type=None, **kwargs):
        requested.append((repo_id, filename, repo_type))
        return family_checkpoints["edgetam" if "EdgeTAM" in repo_id else "efficienttam_ti_512x512"]

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    edgetam = build_sam2_video_predictor_hf("facebook/EdgeTAM", device="cpu")
    efficient = build_sam2_video_predictor_hf("facebook/efficienttam_ti_512x512", device="cpu")
    assert requested == [
        ("facebook/EdgeTAM", "checkpoints/edgetam.pt", "space"),
        ("yunyangx/efficient-track-anything", "efficienttam_ti_512x512.pt", "model"),
    ]
    assert edgetam.spatial_perceiver is not None and efficient.image_size == 512


def test_efficienttams_official_import_paths_build_our_engine(family_checkpoints):
    from efficient_track_anything.build_efficienttam import (
        HF_MODEL_ID_TO_FILENAMES, build_efficienttam, build_efficienttam_video_predictor,
    )
    from efficient_track_anything.efficienttam_image_predictor import EfficientTAMImagePredictor
    from efficient_track_anything.efficienttam_video_predictor import EfficientTAMVideoPredictor

    assert len(HF_MODEL_ID_TO_FILENAMES) == 8
    assert HF_MODEL_ID_TO_FILENAMES["facebook/efficienttam_s"] == ("configs/efficienttam/efficienttam_s.yaml", "efficienttam_s.pt")
    checkpoint = family_checkpoints["efficienttam_ti_512x512"]
    config = "configs/efficienttam/efficienttam_ti_512x512.yaml"
    video = build_efficienttam_video_predictor(config, checkpoint, device="cpu")
    assert isinstance(video, EfficientTAMVideoPredictor) and video.fill_hole_area == 8
    predictor = EfficientTAMImagePredictor(build_efficienttam(config, checkpoint, device="cpu"))
    predictor.set_image(synthetic_frames(1)[0])
    masks, scores, _ = predictor.predict(point_coords=[[20, 20]], point_labels=[1])
    assert masks.shape == (3, 48, 64) and scores.shape == (3,)


def test_a_checkpoint_of_another_model_names_both_and_what_it_fits(family_checkpoints):
    from sam2.assembly.checkpoint import CheckpointMismatchError
    from sam2.build_sam import build_sam2_video_predictor

    with pytest.raises(CheckpointMismatchError) as raised:
        build_sam2_video_predictor("configs/efficienttam/efficienttam_s.yaml", family_checkpoints["edgetam"], device="cpu")
    message = str(raised.value)
    assert "edgetam.pt does not match config efficienttam_s" in message
    assert "these weights fit edgetam" in message


def _family_predictor(preset: str) -> SAM2VideoPredictor:
    torch.manual_seed(1)
    predictor = build_model(PRESETS[preset], SAM2VideoPredictor, binarize_mask_from_pts_for_mem_enc=True)
    make_masks_informative(predictor, seed=1)
    return predictor.eval()


def _session_with_corrections(predictor, policy):
    """Two objects, tracking both ways, a correction and re-tracking; every returned mask."""
    from sam2.runtime.memory_policy import MemoryPolicy

    with torch.inference_mode():
        state = predictor.init_state(np.stack(synthetic_frames(6)), memory_policy=MemoryPolicy(**policy))
        outputs = [predictor.add_new_points_or_box(state, 0, 1, points=[[20, 20]], labels=[1])[2]]
        outputs.append(predictor.add_new_points_or_box(state, 4, 2, points=[[40, 30]], labels=[1])[2])
        outputs += [m for _, _, m in predictor.propagate_in_video(state)]
        outputs += [m for _, _, m in predictor.propagate_in_video(state, start_frame_idx=5, reverse=True)]
        outputs.append(predictor.add_new_points_or_box(state, 2, 1, points=[[30, 25]], labels=[0], clear_old_points=False)[2])
        outputs += [m for _, _, m in predictor.propagate_in_video(state, start_frame_idx=2)]
    return state, outputs


@pytest.mark.parametrize("preset", ["test_tiny_perceiver", "test_tiny_vit"])
def test_spilled_memories_of_the_family_give_identical_results(preset):
    predictor = _family_predictor(preset)
    _, in_memory = _session_with_corrections(predictor, dict(spill_to_disk=False))
    state, spilled = _session_with_corrections(predictor, dict(resident_memory_frames=1))
    assert state.spilled_keys()
    for expected, got in zip(in_memory, spilled):
        assert torch.equal(expected, got)


@pytest.mark.parametrize("preset", ["test_tiny_perceiver", "test_tiny_vit"])
def test_the_family_tracks_under_bfloat16_autocast(preset):
    predictor = _family_predictor(preset)
    _, exact = _session_with_corrections(predictor, {})
    with torch.autocast("cpu", dtype=torch.bfloat16):
        _, low = _session_with_corrections(predictor, {})
    agreement = [((a > 0) == (b > 0)).float().mean().item() for a, b in zip(exact, low)]
    assert min(agreement) > 0.97, agreement
