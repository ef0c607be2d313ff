"""Config names, builders, strict checkpoint loading and the hub download path."""

import pytest
import torch

from sam2.assembly.checkpoint import CheckpointMismatchError, load_checkpoint
from sam2.assembly.configs import PRESETS, config_name, get_config
from sam2.assembly.model_builder import build_model
from sam2.assembly.overrides import parse_overrides
from sam2.build_sam import (
    HF_MODEL_ID_TO_FILENAMES,
    build_sam2,
    build_sam2_video_predictor,
    build_sam2_video_predictor_hf,
)
from sam2.modeling.sam2_base import SAM2Base
from sam2.sam2_image_predictor import SAM2ImagePredictor
from sam2.sam2_video_predictor import SAM2VideoPredictor


@pytest.mark.parametrize(
    "given, expected",
    [
        ("configs/sam2.1/sam2.1_hiera_t.yaml", "sam2.1_hiera_t"),
        ("configs/sam2/sam2_hiera_b+.yaml", "sam2_hiera_b+"),
        ("sam2.1_hiera_l", "sam2.1_hiera_l"),
        ("sam2.1_hiera_tiny", "sam2.1_hiera_t"),
        ("sam2_hiera_base_plus.yaml", "sam2_hiera_b+"),
    ],
)
def test_official_and_short_config_names_resolve(given, expected):
    assert config_name(given) == expected


def test_every_hub_id_has_a_preset():
    assert len(HF_MODEL_ID_TO_FILENAMES) == 8
    for config_file, filename in HF_MODEL_ID_TO_FILENAMES.values():
        assert filename.endswith(".pt")
        get_config(config_file)


def test_unknown_config_lists_the_known_ones():
    with pytest.raises(ValueError, match="sam2.1_hiera_t"):
        get_config("sam3_hiera_xxl")


def test_overrides_reach_the_right_place():
    options = parse_overrides(["++model.image_size=512", "++model.fill_hole_area=0",
                               "++model.sam_mask_decoder_extra_args.dynamic_multimask_via_stability=false"])
    assert options.image_size == 512
    assert options.predictor_kwargs == {"fill_hole_area": 0}
    assert options.model_kwargs == {"dynamic_multimask_via_stability": False}
    with pytest.raises(ValueError, match="unsupported override"):
        parse_overrides(["++model.warp_drive=true"])


def test_postprocessing_settings_follow_the_official_meaning(tmp_path):
    torch.manual_seed(0)
    checkpoint = tmp_path / "tiny.pt"
    torch.save({"model": build_model(PRESETS["test_tiny"]).state_dict()}, checkpoint)
    video = build_sam2_video_predictor("test_tiny", str(checkpoint), device="cpu")
    assert video.fill_hole_area == 8 and video.binarize_mask_from_pts_for_mem_enc
    assert video.sam_mask_decoder.dynamic_multimask_via_stability and not video.training
    plain = build_sam2_video_predictor("test_tiny", str(checkpoint), device="cpu", apply_postprocessing=False)
    assert plain.fill_hole_area == 0 and not plain.binarize_mask_from_pts_for_mem_enc
    image_model = build_sam2("test_tiny", str(checkpoint), device="cpu")
    assert image_model.sam_mask_decoder.dynamic_multimask_via_stability
    assert image_model.device == torch.device("cpu")


def test_checkpoint_with_wrong_keys_lists_them(tmp_path):
    state = build_model(PRESETS["test_tiny"]).state_dict()
    state["surprise.weight"] = torch.zeros(1)
    del state["no_mem_embed"]
    path = tmp_path / "bad.pt"
    torch.save({"model": state}, path)
    with pytest.raises(CheckpointMismatchError) as raised:
        load_checkpoint(build_model(PRESETS["test_tiny"]), str(path))
    assert "missing keys (1): no_mem_embed" in str(raised.value)
    assert "unexpected keys (1): surprise.weight" in str(raised.value)


def test_checkpoint_of_another_size_reports_shapes(tmp_path):
    path = tmp_path / "tiny.pt"
    torch.save({"model": build_model(PRESETS["test_tiny"]).state_dict()}, path)
    with pytest.raises(CheckpointMismatchError, match="shape mismatches"):
        build_sam2("test_tiny", str(path), device="cpu", hydra_overrides_extra=["++model.num_maskmem=3"])


@pytest.mark.parametrize("content", [b"", b"not a checkpoint", None])
def test_unreadable_or_missing_checkpoint(tmp_path, content):
    path = tmp_path / "weights.pt"
    if content is not None:
        path.write_bytes(content)
    expected = FileNotFoundError if content is None else ValueError
    with pytest.raises(expected, match="weights.pt"):
        load_checkpoint(build_model(PRESETS["test_tiny"]), str(path))


def test_checkpoint_without_model_key(tmp_path):
    path = tmp_path / "raw.pt"
    torch.save(build_model(PRESETS["test_tiny"]).state_dict(), path)
    with pytest.raises(ValueError, match="no 'model' state dict"):
        load_checkpoint(build_model(PRESETS["test_tiny"]), str(path))


@pytest.fixture
def fake_hub(monkeypatch, tmp_path):
    """huggingface_hub.hf_hub_download answering with random SAM 2.1 tiny weights; the list of
    (repo_id, filename) asked for."""
    import huggingface_hub

    requested = []
    torch.manual_seed(0)
    weights = tmp_path / "sam2.1_hiera_tiny.pt"
    torch.save({"model": build_model(get_config("sam2.1_hiera_t")).state_dict()}, weights)

    def fake_download(repo_id, filename, **kwargs):
        requested.append((repo_id, filename))
        return str(weights)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    return requested


def test_hub_builder_downloads_through_huggingface_hub(fake_hub):
    requested = fake_hub
    predictor = build_sam2_video_predictor_hf("facebook/sam2.1-hiera-tiny", device="cpu")
    assert requested == [("facebook/sam2.1-hiera-tiny", "sam2.1_hiera_tiny.pt")]
    assert predictor.image_size == 1024 and predictor.fill_hole_area == 8
    with pytest.raises(ValueError, match="unknown model id"):
        build_sam2_video_predictor_hf("facebook/sam2-hiera-huge")


def test_from_pretrained_builds_both_predictors_with_their_own_settings(fake_hub):
    video = SAM2VideoPredictor.from_pretrained("facebook/sam2.1-hiera-tiny", device="cpu", apply_postprocessing=False)
    assert type(video) is SAM2VideoPredictor and video.fill_hole_area == 0
    assert not video.binarize_mask_from_pts_for_mem_enc
    image = SAM2ImagePredictor.from_pretrained("facebook/sam2.1-hiera-tiny", device="cpu", mask_threshold=0.5)
    assert image.mask_threshold == 0.5 and type(image.model) is SAM2Base
    assert image.model.sam_mask_decoder.dynamic_multimask_via_stability
    assert fake_hub == [("facebook/sam2.1-hiera-tiny", "sam2.1_hiera_tiny.pt")] * 2


def test_the_automatic_mask_generator_from_the_hub_takes_its_own_settings(fake_hub):
    from sam2.automatic_mask_generator import SAM2AutomaticMaskGenerator

    generator = SAM2AutomaticMaskGenerator.from_pretrained(
        "facebook/sam2.1-hiera-tiny", device="cpu", points_per_side=4, min_mask_region_area=10, use_m2m=True)
    assert len(generator.point_grids[0]) == 16 and generator.use_m2m
    assert generator.predictor.max_hole_area == 10 and type(generator.predictor.model) is SAM2Base
    assert fake_hub == [("facebook/sam2.1-hiera-tiny", "sam2.1_hiera_tiny.pt")]


def test_a_checkpoints_config_is_found_and_a_model_runs_at_another_size_on_the_same_weights(tmp_path):
    from sam2.assembly.random_weights import save_random_checkpoint
    from sam2.build_sam import at_image_size, checkpoint_config

    path = save_random_checkpoint("sam2.1_hiera_t", str(tmp_path / "t.pt"))
    assert checkpoint_config(path) == "sam2.1_hiera_t"
    predictor = build_sam2_video_predictor("sam2.1_hiera_t", path, device="cpu")
    smaller = at_image_size(predictor, 512)
    assert type(smaller) is type(predictor) and (smaller.image_size, predictor.image_size) == (512, 1024)
    assert smaller.model_config.image_size == 512 and predictor.model_config.image_size == 1024
    ours, theirs = predictor.state_dict(), smaller.state_dict()
    assert all(theirs[key].data_ptr() == tensor.data_ptr() for key, tensor in ours.items()), "shared, not copied"
    assert smaller.binarize_mask_from_pts_for_mem_enc == predictor.binarize_mask_from_pts_for_mem_enc
    with pytest.raises(ValueError, match="multiple of 32"):
        at_image_size(predictor, 500)
    with pytest.raises(ValueError, match="match 0 known configs"):
        checkpoint_config({"not.a.parameter": torch.zeros(1)})


def test_the_public_models_module_names_configs_sizes_and_hub_checkpoints():
    from sam2 import models

    assert models.config_name("configs/sam2.1/sam2.1_hiera_t.yaml") == "sam2.1_hiera_t"
    config = models.get_config("sam2.1_hiera_t")
    assert isinstance(config, models.ModelConfig) and config.image_size == 1024
    assert models.image_size_step(config) == 32 and models.image_size_step(models.get_config("edgetam")) == 256
    assert models.checked_image_size(512) == 512
    with pytest.raises(ValueError, match="multiple of 32"):
        models.checked_image_size(500)
    checkpoint = models.hub_checkpoint("facebook/sam2.1-hiera-tiny")
    assert isinstance(checkpoint, models.HubCheckpoint) and checkpoint.filename == "sam2.1_hiera_tiny.pt"
    assert issubclass(models.CheckpointMismatchError, RuntimeError)
