"""Engines at several input sizes of one model: weights read once and shared, outputs as if
built at that size, the sizes offered and the default one, and the cache of two models."""

import threading
import time
from types import SimpleNamespace

import pytest
import torch

from conftest import synthetic_frames
from sam2.build_sam import build_sam2_video_predictor
from sam2.assembly.random_weights import save_random_checkpoint
from tracker.model import loading
from tracker.model.engine import Engine, default_image_size, size_choices
from tracker.model.loading import EngineCache, ModelUnavailable
from tracker.settings import AppSettings


def tiny_settings(checkpoint: str, *argv: str) -> AppSettings:
    env = {"SAM2_DEVICE": "cpu", "SAM2_CHECKPOINT": checkpoint, "SAM2_CONFIG": "test_tiny"}
    return AppSettings.from_sources(list(argv), env)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> str:
    return save_random_checkpoint("test_tiny", str(tmp_path_factory.mktemp("weights") / "tiny.pt"))


def test_other_sizes_share_the_parameters_and_read_the_weights_once(monkeypatch, checkpoint):
    reads = []
    load = torch.load
    monkeypatch.setattr(torch, "load", lambda *args, **kwargs: reads.append(args[0]) or load(*args, **kwargs))
    engines = EngineCache(tiny_settings(checkpoint))
    base, resized = engines.get(), engines.get(image_size=256)
    assert reads == [checkpoint]
    assert base.name == "tiny.pt (test_tiny)" and resized.name == "tiny.pt (test_tiny) at 256 px"
    assert (base.image_size, base.native_image_size) == (128, 128)
    assert (resized.image_size, resized.native_image_size) == (256, 128)
    assert resized.predictor.sam_prompt_encoder.mask_input_size == (64, 64)
    assert resized.dtype == base.dtype and not resized.predictor.training
    assert resized.predictor.add_all_frames_to_correct_as_cond and resized.predictor.fill_hole_area == 8
    base_tensors = base.predictor.state_dict(keep_vars=True)
    for key, tensor in resized.predictor.state_dict(keep_vars=True).items():
        assert tensor is base_tensors[key] and not tensor.is_meta, key
    assert engines.get(image_size=256) is resized and engines.get(image_size=128) is base


def test_a_resized_model_tracks_like_one_built_at_that_size(checkpoint):
    resized = EngineCache(tiny_settings(checkpoint)).get(image_size=256)
    direct = build_sam2_video_predictor("test_tiny", checkpoint, device="cpu",
                                        hydra_overrides_extra=["++model.image_size=256"])
    direct.add_all_frames_to_correct_as_cond = True

    def masks(predictor):
        state = predictor.init_state(synthetic_frames(4))
        _, _, clicked = predictor.add_new_points_or_box(state, 0, 1, points=[[20, 20]], labels=[1])
        return [clicked] + [logits for _, _, logits in predictor.propagate_in_video(state)]

    with resized.compute():  # the app's precision
        pairs = list(zip(masks(resized.predictor), masks(direct), strict=True))
    for ours, theirs in pairs:
        assert ours.shape == (1, 1, 48, 64)
        assert torch.equal(ours, theirs)


def test_a_preloaded_engine_runs_at_other_sizes(tiny_engine):
    settings = AppSettings.from_sources([], {"SAM2_DEVICE": "cpu", "SAM2_MODEL": "facebook/sam2.1-hiera-tiny"})
    engines = EngineCache(settings, loaded=tiny_engine)
    assert engines.get() is tiny_engine
    resized = engines.get(image_size=64)
    assert resized.name == "test_tiny at 64 px" and resized.predictor.binarize_mask_from_pts_for_mem_enc
    assert resized.predictor.no_mem_embed is tiny_engine.predictor.no_mem_embed


def test_sizes_that_are_not_multiples_of_32_are_refused(checkpoint):
    for size in (100, 0, -32):
        refused = EngineCache(tiny_settings(checkpoint)).get(image_size=size)
        assert isinstance(refused, ModelUnavailable) and "multiple of 32" in refused.message


def fake_engine(native: int, device: str = "cpu", dtype=None) -> Engine:
    predictor = SimpleNamespace(image_size=native, device=torch.device(device))
    return Engine(predictor, "fake", dtype)


def test_sizes_offered_are_512_768_and_the_native_one_up_to_it():
    assert size_choices(fake_engine(1024)) == [512, 768, 1024]
    assert size_choices(fake_engine(640)) == [512, 640]
    assert size_choices(fake_engine(128)) == [128]
    assert size_choices(Engine(SimpleNamespace(image_size=512), "resized", native_image_size=1024)) == [512, 768, 1024]


def test_the_default_size_is_native_where_the_model_is_fast_else_512(checkpoint):
    settings = tiny_settings(checkpoint)
    assert default_image_size(fake_engine(1024), settings) == 512
    assert default_image_size(fake_engine(1024, dtype=torch.bfloat16), settings) == 1024
    assert default_image_size(fake_engine(1024, "cuda", torch.float16), settings) == 1024
    assert default_image_size(fake_engine(1024, "mps"), settings) == 1024
    assert default_image_size(fake_engine(128), settings) == 128
    assert default_image_size(fake_engine(1024, dtype=torch.bfloat16), tiny_settings(checkpoint, "--image-size", "768")) == 768


def test_the_configured_size_is_the_default_and_the_base_stays_native(checkpoint):
    engines = EngineCache(tiny_settings(checkpoint, "--image-size", "64"))
    engine = engines.get()
    assert engine.image_size == 64 and engine.native_image_size == 128
    assert engines.get(image_size=128).name == "tiny.pt (test_tiny)"


def test_two_models_are_kept_and_a_third_drops_the_least_recently_used(monkeypatch, checkpoint):
    loads = []

    def load(settings, model_id):
        loads.append(model_id)
        return loading._build("test_tiny", checkpoint, settings, model_id)

    monkeypatch.setattr(loading, "load_engine", load)
    engines = EngineCache(AppSettings.from_sources([], {"SAM2_DEVICE": "cpu", "SAM2_MODEL": "a"}))
    first = engines.get()
    resized = engines.get("a", 64)
    engines.get("b")
    assert engines.get("a") is first and engines.get("a", 64) is resized  # "a" is now the most recent
    engines.get("c")  # drops "b"
    assert engines.get("a", 64) is resized and loads == ["a", "b", "c"]
    engines.get("b")
    assert loads == ["a", "b", "c", "b"]


def test_concurrent_requests_load_a_model_and_build_a_size_once(monkeypatch, checkpoint):
    loads, resizes = [], []
    load, resize = loading.load_engine, loading.resized_engine

    def slow_load(*args):
        loads.append(args)
        time.sleep(0.2)
        return load(*args)

    monkeypatch.setattr(loading, "load_engine", slow_load)
    monkeypatch.setattr(loading, "resized_engine", lambda *args: resizes.append(args) or resize(*args))
    engines = EngineCache(tiny_settings(checkpoint))
    results = []
    threads = [threading.Thread(target=lambda: results.append(engines.get(image_size=256))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(loads) == 1 and len(resizes) == 1
    assert len(results) == 4 and all(result is results[0] for result in results)


def test_the_app_builds_its_predictors_for_corrections_and_refuses_others(checkpoint):
    """The app asks for memory-conditioning corrections when it builds (an official override),
    instead of flipping the flag of a predictor it was handed."""
    assert EngineCache(tiny_settings(checkpoint)).get().predictor.add_all_frames_to_correct_as_cond
    plain = build_sam2_video_predictor("test_tiny", checkpoint, device="cpu")
    with pytest.raises(ValueError, match="add_all_frames_to_correct_as_cond"):
        Engine.wrap(plain, "plain")
    assert not plain.add_all_frames_to_correct_as_cond
