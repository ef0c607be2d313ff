"""App settings (environment and flags), the device and precision choice, and finding the weights."""

import pytest
import torch

from conftest import synthetic_frames
from tracker.actions import opening, prompting, tracking
from tracker.media.video_io import write_mp4


@pytest.fixture()
def video(tmp_path):
    return str(write_mp4(tmp_path / "square.mp4", synthetic_frames(8), fps=10))


def test_the_device_is_cuda_then_mps_then_cpu(monkeypatch):
    from tracker import settings

    available = {"cuda": False, "mps": False}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: available["cuda"])
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: available["mps"])
    assert settings.best_device() == "cpu"
    available["mps"] = True
    assert settings.best_device() == "mps"
    assert settings.AppSettings.from_sources([], {}).model_id == settings.CPU_DEFAULT_MODEL == "facebook/EdgeTAM"
    available["cuda"] = True
    assert settings.best_device() == "cuda"
    assert settings.AppSettings.from_sources([], {}).model_id == "facebook/sam2.1-hiera-base-plus"


def test_the_page_names_device_and_precision(tiny_engine, monkeypatch):
    from tracker.model import engine as engine_module

    assert tiny_engine.description.startswith("**test_tiny** on cpu (")
    assert engine_module.device_label(torch.device("mps")) == "mps"
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA L4")
    assert engine_module.device_label(torch.device("cuda", 0)) == "cuda (NVIDIA L4)"


def test_settings_from_environment_and_flags():
    from tracker.settings import AppSettings

    settings = AppSettings.from_sources([], {"SAM2_DEVICE": "cpu"})
    assert (settings.model_id, settings.host, settings.port) == ("facebook/EdgeTAM", "127.0.0.1", 7860)
    assert AppSettings.from_sources(["--model", "facebook/efficienttam_s_512x512"], {}).model_id == \
        "facebook/efficienttam_s_512x512"
    gpu = AppSettings.from_sources(["--port", "9000"], {"SAM2_DEVICE": "cuda", "GRADIO_SERVER_NAME": "0.0.0.0"})
    assert (gpu.model_id, gpu.host, gpu.port) == ("facebook/sam2.1-hiera-base-plus", "0.0.0.0", 9000)
    local = AppSettings.from_sources([], {"SAM2_CHECKPOINT": "/data/w.pt", "SAM2_CONFIG": "sam2.1_hiera_t",
                                          "SAM2_DEVICE": "cpu"})
    assert (local.checkpoint, local.config) == ("/data/w.pt", "sam2.1_hiera_t")
    assert local.model_id == "w.pt (sam2.1_hiera_t)", "a local file is a model of its own, by its name"
    with pytest.raises(SystemExit):
        AppSettings.from_sources([], {"SAM2_CHECKPOINT": "w.pt", "SAM2_DEVICE": "cpu"})


def test_limits_from_environment_and_flags():
    from tracker.settings import AppSettings, Limits

    assert AppSettings.from_sources([], {"SAM2_DEVICE": "cpu"}).limits == Limits()
    env = {"SAM2_DEVICE": "cpu", "SAM2_MAX_FRAMES": "50", "SAM2_MAX_JOBS": "2", "SAM2_SESSION_TTL": "60"}
    limits = AppSettings.from_sources(["--max-jobs", "3", "--queue-size", "4", "--max-upload-mb", "5"], env).limits
    assert (limits.max_frames, limits.max_jobs, limits.queue_size, limits.session_ttl) == (50, 3, 4, 60)
    assert limits.max_upload_bytes == 5 * 2**20
    for bad in ({"SAM2_MAX_POINTS": "0"}, {"SAM2_MAX_SIDE": "big"}):
        with pytest.raises(SystemExit):
            AppSettings.from_sources([], {"SAM2_DEVICE": "cpu", **bad})


def test_image_size_setting_from_environment_and_flag():
    from tracker.settings import AppSettings

    assert AppSettings.from_sources([], {"SAM2_DEVICE": "cpu"}).image_size is None
    assert AppSettings.from_sources([], {"SAM2_DEVICE": "cpu", "SAM2_IMAGE_SIZE": "512"}).image_size == 512
    env = {"SAM2_DEVICE": "cpu", "SAM2_IMAGE_SIZE": "512"}
    assert AppSettings.from_sources(["--image-size", "768"], env).image_size == 768
    for bad in ("500", "0", "small"):
        with pytest.raises(SystemExit):
            AppSettings.from_sources(["--image-size", bad], {"SAM2_DEVICE": "cpu"})


def test_app_runs_the_model_at_the_configured_image_size(tmp_path, video):
    from sam2.assembly.random_weights import save_random_checkpoint
    from tracker.model import loading
    from tracker.model.calls import ModelCalls
    from tracker.settings import AppSettings

    checkpoint = tmp_path / "w.pt"
    save_random_checkpoint("sam2.1_hiera_t", str(checkpoint))
    env = {"SAM2_DEVICE": "cpu", "SAM2_CHECKPOINT": str(checkpoint), "SAM2_CONFIG": "sam2.1_hiera_t"}
    engines = loading.EngineCache(AppSettings.from_sources(["--image-size", "256"], env))
    engine = engines.get()
    assert engine.name == "w.pt (sam2.1_hiera_t) at 256 px" and engine.predictor.image_size == 256
    calls = ModelCalls(engines)
    session = opening.open_video(calls, video)
    prompting.click(calls, session, 20, 20, prompting.INCLUDE)
    assert session.state.cached_features[0].vision.shape[-2:] == (16, 16)  # stride 16 at 256 px
    list(tracking.track(calls, session))
    assert [session.masks.unpacked(i)[1].shape for i in range(8)] == [(48, 64)] * 8
    session.close()


def test_random_weights_run_the_models_config_without_any_download(monkeypatch, tmp_path):
    import huggingface_hub

    from tracker.model import weights
    from tracker.model.loading import EngineCache
    from tracker.settings import AppSettings

    monkeypatch.setattr(weights, "RANDOM_WEIGHTS_DIR", tmp_path / "random")
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", lambda *a, **k: pytest.fail("nothing is downloaded"))
    assert AppSettings.from_sources([], {"SAM2_RANDOM_WEIGHTS": "1"}).random_weights
    settings = AppSettings.from_sources(["--random-weights", "--model", "facebook/sam2.1-hiera-tiny",
                                         "--checkpoints-dir", str(tmp_path / "empty"), "--device", "cpu"], {})
    randomised = weights.with_random_weights(settings)
    path = tmp_path / "random" / "random-sam2.1_hiera_t.pt"
    assert (randomised.checkpoint, randomised.config) == (str(path), "sam2.1_hiera_t") and path.is_file()
    assert randomised.model_id == "random-sam2.1_hiera_t.pt (sam2.1_hiera_t)"
    engine = EngineCache(randomised).get()
    assert not isinstance(engine, weights.ModelUnavailable), engine
    assert engine.predictor.image_size == 1024
    written = path.stat().st_mtime_ns
    assert weights.with_random_weights(settings) == randomised and path.stat().st_mtime_ns == written
    with pytest.raises(ValueError, match="unknown model 'nobody/nothing'"):
        weights.with_random_weights(AppSettings.from_sources(["--model", "nobody/nothing"], {}))


def test_the_app_runs_a_model_from_an_official_format_yaml_file(reference_sam2, tmp_path):
    """A fine-tune's config file (here: the official tiny one at 256 px) with its checkpoint."""
    from sam2.assembly.random_weights import save_random_checkpoint
    from tracker.model.loading import EngineCache
    from tracker.settings import AppSettings

    official = (reference_sam2.pkg_dir / "sam2" / "configs" / "sam2.1" / "sam2.1_hiera_t.yaml").read_text()
    config = tmp_path / "my_finetune.yaml"
    config.write_text(official.replace("image_size: 1024", "image_size: 256"))
    checkpoint = save_random_checkpoint("sam2.1_hiera_t", str(tmp_path / "my_finetune.pt"))
    settings = AppSettings.from_sources(["--checkpoint", checkpoint, "--config", str(config), "--device", "cpu"], {})
    engine = EngineCache(settings).get()
    assert engine.predictor.image_size == 256 and engine.config.name == "my_finetune", engine
