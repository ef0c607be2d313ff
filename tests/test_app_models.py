"""The app's models: the catalogue by label, where weights are found (the checkpoints folder,
the Hugging Face cache, a download only when a model is picked, and what the page says when
that fails), the input sizes each model runs at, Compare of EdgeTAM beside SAM 2.1 with each
one's speed, the model status line, and weights that do not fit their config."""

import socket
import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Dict, List, Tuple

import huggingface_hub
import pytest
import torch
from huggingface_hub import constants as hub_constants

from app_server import family_weights  # noqa: F401
from conftest import CPU_PRECISION, synthetic_frames
from sam2.assembly.checkpoint import layout_of
from sam2.assembly.configs import PRESETS
from sam2.assembly.hub import HUB_CHECKPOINTS
from sam2.assembly.model_builder import presets_with_layout
from sam2.assembly.random_weights import save_random_checkpoint
from tracker.actions import opening, prompting, tracking
from tracker.model.catalogue import HUB_MODELS, configured_model, hub_model
from tracker.actions.compare import compare
from tracker.model.engine import Engine, default_image_size, offered_sizes, size_choices
from tracker.page.events import PageEvents
from tracker.model.calls import ModelCalls, ModelChoice
from tracker.model.loading import EngineCache
from tracker.page.model_menu import menu_models, model_menu
from tracker.sessions.session import TrackSpeed
from tracker.settings import CPU_DEFAULT_MODEL, GPU_DEFAULT_MODEL, AppSettings, Limits
from tracker.page.ui import build_ui
from tracker.media.video_io import write_mp4
from tracker.model import loading, weights
from tracker.model.weights import ModelUnavailable, find_weights, local_weights

REVISION = "0123456789abcdef0123456789abcdef01234567"


class FakeHub:
    """``huggingface_hub`` as the app meets it, without a network: a cache folder in the Hub's
    layout (what ``try_to_load_from_cache`` reads) and an ``hf_hub_download`` that records each
    call and fails for want of a network, unless the file was put on the fake "remote"."""

    def __init__(self, cache: Path) -> None:
        self.cache = cache
        self.remote: Dict[Tuple[str, str], Path] = {}
        self.downloads: List[Tuple[str, str, str]] = []

    def put_in_cache(self, model_id: str, source: Path) -> Path:
        checkpoint = HUB_CHECKPOINTS[model_id]
        repo = self.cache / f"{checkpoint.repo_type}s--{checkpoint.repo_id.replace('/', '--')}"
        (repo / "refs").mkdir(parents=True, exist_ok=True)
        (repo / "refs" / "main").write_text(REVISION)
        path = repo / "snapshots" / REVISION / checkpoint.filename
        path.parent.mkdir(parents=True, exist_ok=True)
        path.symlink_to(source)
        return path

    def hf_hub_download(self, repo_id: str, filename: str, repo_type=None, **kwargs) -> str:
        self.downloads.append((repo_id, filename, repo_type or "model"))
        model_id = next(i for i, c in HUB_CHECKPOINTS.items() if (c.repo_id, c.filename) == (repo_id, filename))
        if (repo_id, filename) not in self.remote:
            raise OSError("no network")
        return str(self.put_in_cache(model_id, self.remote[(repo_id, filename)]))


@pytest.fixture()
def fake_hub(monkeypatch, tmp_path) -> FakeHub:
    """An online Hub with an empty cache of its own."""
    hub = FakeHub(tmp_path / "hub-cache")
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(hub.cache))
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", hub.hf_hub_download)
    monkeypatch.setattr(weights, "HUB", weights.HubAccess(probe=lambda: None))  # it answers
    return hub


def settings_for(folder: Path, *argv: str) -> AppSettings:
    return AppSettings.from_sources(["--checkpoints-dir", str(folder), *argv], {"SAM2_DEVICE": "cpu"})


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory) -> str:
    return save_random_checkpoint("test_tiny", str(tmp_path_factory.mktemp("tiny") / "tiny.pt"))


# ------------------------------------------------------------------------ the catalogue
def test_the_catalogue_labels_every_hub_model_once():
    assert sorted(model.model_id for model in HUB_MODELS) == sorted(HUB_CHECKPOINTS)
    labels = [model.label for model in HUB_MODELS]
    assert len(set(labels)) == len(labels)
    edgetam = hub_model("facebook/EdgeTAM")
    assert (edgetam.label, edgetam.config, edgetam.filename) == ("EdgeTAM (fast on CPUs)", "edgetam", "edgetam.pt")
    assert (edgetam.hub.repo_id, edgetam.hub.filename, edgetam.hub.repo_type) == \
        ("facebook/EdgeTAM", "checkpoints/edgetam.pt", "space")
    assert [hub_model(f"facebook/efficienttam_{size}_512x512").label for size in ("s", "ti")] == \
        ["EfficientTAM-S 512", "EfficientTAM-Ti 512"]
    assert hub_model("facebook/sam2.1-hiera-tiny").label == "SAM 2.1 tiny"
    assert hub_model("facebook/sam2-hiera-base-plus").label == "SAM 2 base+"
    assert hub_model(CPU_DEFAULT_MODEL) is edgetam and hub_model(GPU_DEFAULT_MODEL).label == "SAM 2.1 base+"
    local = configured_model(AppSettings.from_sources(["--checkpoint", "/w/mine.pt", "--config", "edgetam"], {}))
    assert (local.model_id, local.label, local.filename, local.config) == \
        ("mine.pt (edgetam)", "mine.pt (edgetam)", "mine.pt", "edgetam")


# ---------------------------------------------------------------------- finding weights
def test_weights_come_from_the_folder_or_the_hub_cache_and_are_downloaded_only_when_asked(
        fake_hub, family_weights, monkeypatch, tmp_path):  # noqa: F811
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    (folder / "edgetam.pt").symlink_to(family_weights / "edgetam.pt")
    cached = fake_hub.put_in_cache("facebook/sam2.1-hiera-tiny", family_weights / "sam2.1_hiera_tiny.pt")
    settings = settings_for(folder)
    assert local_weights(hub_model("facebook/EdgeTAM"), settings) == str(folder / "edgetam.pt")
    assert local_weights(hub_model("facebook/sam2.1-hiera-tiny"), settings) == str(cached)
    assert local_weights(hub_model("facebook/sam2.1-hiera-large"), settings) is None

    # Online, the menu offers the models here and the default ones (a pick downloads them).
    offered = [model.model_id for model in menu_models(settings)]
    assert offered[:3] == ["facebook/EdgeTAM", "facebook/sam2.1-hiera-tiny", "facebook/sam2.1-hiera-small"]
    assert offered == [m.model_id for m in HUB_MODELS if m.always_offered]
    assert find_weights(hub_model("facebook/sam2.1-hiera-tiny"), settings) == str(cached)
    assert fake_hub.downloads == []
    # Offline, only what is here.
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    assert [model.model_id for model in menu_models(settings)] == ["facebook/EdgeTAM", "facebook/sam2.1-hiera-tiny"]
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", False)

    # A pick of a model not here downloads it; when that fails, the page says what to do.
    failed = find_weights(hub_model("facebook/efficienttam_s"), settings)
    assert fake_hub.downloads == [("yunyangx/efficient-track-anything", "efficienttam_s.pt", "model")]
    assert isinstance(failed, ModelUnavailable)
    assert failed.message == (
        "The weights of EfficientTAM-S (facebook/efficienttam_s) could not be downloaded (OSError: no network). "
        "Put efficienttam_s.pt (from the Hugging Face model repository yunyangx/efficient-track-anything, file "
        f"efficienttam_s.pt) into {folder}/ (see checkpoints/README.md), or start the app with "
        "SAM2_CHECKPOINT=/path/to/efficienttam_s.pt SAM2_CONFIG=efficienttam_s.")
    fake_hub.remote[("facebook/EdgeTAM", "checkpoints/edgetam.pt")] = family_weights / "edgetam.pt"
    downloaded = find_weights(hub_model("facebook/EdgeTAM"), settings_for(tmp_path / "empty"))
    assert fake_hub.downloads[-1] == ("facebook/EdgeTAM", "checkpoints/edgetam.pt", "space")
    assert downloaded.endswith("checkpoints/edgetam.pt") and Path(downloaded).resolve() == family_weights / "edgetam.pt"
    assert local_weights(hub_model("facebook/EdgeTAM"), settings_for(tmp_path / "empty")) == downloaded, \
        "found in the cache of the Space next time"


# --------------------------------------------------------------------------- input sizes
def fake_engine(preset: str) -> Engine:
    predictor = SimpleNamespace(image_size=PRESETS[preset].image_size, device=torch.device("cpu"))
    return Engine(predictor, preset, config=PRESETS[preset])


def test_each_model_is_offered_the_input_sizes_it_runs_at(tmp_path):
    assert size_choices(fake_engine("edgetam")) == [512, 768, 1024]
    assert size_choices(fake_engine("efficienttam_ti_512x512")) == [512]
    assert size_choices(fake_engine("efficienttam_s")) == [512, 768, 1024]
    assert size_choices(fake_engine("test_tiny_perceiver")) == [128]
    # A configured size is each model's default, at most its own size and one it runs at.
    odd = settings_for(tmp_path, "--image-size", "640")
    assert [default_image_size(fake_engine(p), odd) for p in ("sam2.1_hiera_t", "edgetam", "efficienttam_s_512x512")] \
        == [640, 512, 512]
    assert offered_sizes(fake_engine("sam2.1_hiera_t"), odd) == [512, 640, 768, 1024]
    assert offered_sizes(fake_engine("edgetam"), odd) == [512, 768, 1024]
    assert default_image_size(fake_engine("edgetam"), settings_for(tmp_path, "--image-size", "256")) == 256
    assert default_image_size(fake_engine("efficienttam_ti_512x512"), settings_for(tmp_path)) == 512


def test_sizes_a_model_cannot_run_at_are_refused(tmp_path):
    """A tiny model with EdgeTAM's perceiver (a 4 x 4 grid: multiples of 64 px)."""
    checkpoint = save_random_checkpoint("test_tiny_perceiver", str(tmp_path / "perceiver.pt"))
    engines = EngineCache(settings_for(tmp_path, "--checkpoint", checkpoint, "--config", "test_tiny_perceiver"))
    refused = engines.get(image_size=96)
    assert isinstance(refused, ModelUnavailable)
    assert refused.message == ("Could not run perceiver.pt (test_tiny_perceiver) at 96 px: it runs at input "
                               "sizes that are multiples of 64 px")
    assert engines.get(image_size=192).predictor.image_size == 192


def test_a_model_runs_at_other_sizes_with_the_config_it_was_built_from(family_weights, tmp_path):  # noqa: F811
    """EfficientTAM's variants share one parameter layout: the config given is kept, not guessed."""
    checkpoint = str(family_weights / "efficienttam_ti_512x512.pt")
    assert len(presets_with_layout(layout_of(torch.load(checkpoint, weights_only=True)["model"]))) > 1
    engines = EngineCache(settings_for(tmp_path, "--checkpoint", checkpoint, "--config", "efficienttam_ti_1"))
    engine = engines.get(image_size=256)
    assert engine.name == "efficienttam_ti_512x512.pt (efficienttam_ti_1) at 256 px"
    assert engine.config is PRESETS["efficienttam_ti_1"] and engine.predictor.image_size == 256
    assert engine.native_image_size == 1024


# --------------------------------------------------------------- Compare and the speeds
def test_track_speed_reads_as_seconds_per_frame():
    model = ModelChoice("facebook/EdgeTAM", 512)
    assert TrackSpeed(model, 10, 19.0).text == "1.9 s per frame"
    assert TrackSpeed(model, 10, 4.2).text == "0.42 s per frame"
    assert TrackSpeed(model, 0, 0.0).seconds_per_frame == 0.0


def test_compare_edgetam_beside_sam21_names_each_models_speed(family_weights, tmp_path):  # noqa: F811
    calls = ModelCalls(EngineCache(settings_for(family_weights, "--image-size", "256")))
    video = str(write_mp4(tmp_path / "clip.mp4", synthetic_frames(4), fps=10))
    session = opening.open_video(calls, video)  # the CPU default: EdgeTAM
    assert calls.engine(session.model).name == "EdgeTAM (fast on CPUs) at 256 px"
    prompting.click(calls, session, 20, 20, prompting.INCLUDE)
    assert session.last_track is None
    list(tracking.track(calls, session))
    ours = session.last_track
    assert ours.model == session.model and ours.frames == 4 and ours.seconds > 0

    sam21 = ModelChoice("facebook/sam2.1-hiera-tiny")
    result = list(compare(calls, session, sam21))[-1]
    assert result.models == ("EdgeTAM (fast on CPUs) at 256 px", "SAM 2.1 tiny at 256 px")
    assert result.speeds[0] is ours
    theirs = result.speeds[1]
    assert theirs.model == sam21 and theirs.frames == 4 and theirs.seconds > 0
    assert result.text.endswith(f"Tracking speed:\n- EdgeTAM (fast on CPUs) at 256 px: {ours.text} (its last "
                                f"Track)\n- SAM 2.1 tiny at 256 px: {theirs.text} (this comparison)")
    # Another model: the speed measured was the old model's.
    opening.switch_model(calls, session, ModelChoice("facebook/sam2.1-hiera-tiny", 256))
    assert session.last_track is None
    unmeasured = replace(result, models=result.models[::-1], speeds=(None, ours))
    assert "- SAM 2.1 tiny at 256 px: not measured (Track again to measure)\n- EdgeTAM" in unmeasured.text
    session.close()


# ----------------------------------------------------------------- the page's model line
def test_the_status_line_names_the_model_and_a_failed_pick_says_why(
        fake_hub, family_weights, tiny_checkpoint, tmp_path):  # noqa: F811
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    (folder / "efficienttam_ti_512x512.pt").symlink_to(family_weights / "efficienttam_ti_512x512.pt")
    settings = settings_for(folder, "--checkpoint", tiny_checkpoint, "--config", "test_tiny")
    engines = EngineCache(settings)
    menu = model_menu(settings, engines)
    assert menu.choices[:3] == [("tiny.pt (test_tiny)", "tiny.pt (test_tiny)"),
                                ("EdgeTAM (fast on CPUs)", "facebook/EdgeTAM"), ("SAM 2.1 tiny", "facebook/sam2.1-hiera-tiny")]
    assert ("EfficientTAM-Ti 512", "facebook/efficienttam_ti_512x512") in menu.choices
    assert menu.default_compare == "EfficientTAM-Ti 512", "the first other model whose weights are here"
    assert fake_hub.downloads == [], "nothing is downloaded before it is picked"
    events = PageEvents(ModelCalls(engines), Limits(), menu)

    with pytest.warns(UserWarning, match="could not be downloaded"):  # the page's notice, outside a page
        *_, status, session, size, model = events.change_model(None, "facebook/sam2.1-hiera-large", 128)
    assert fake_hub.downloads == [("facebook/sam2.1-hiera-large", "sam2.1_hiera_large.pt", "model")]
    assert session is None
    assert status.startswith("The weights of SAM 2.1 large (facebook/sam2.1-hiera-large) could not be downloaded")
    assert status.endswith("Still on tiny.pt (test_tiny).") and "Traceback" not in status
    assert model["value"] == "tiny.pt (test_tiny)", "the menu goes back to the model in use"

    *_, status, session, size, model = events.change_model(None, "facebook/efficienttam_ti_512x512", 128)
    assert status == f"Model: **EfficientTAM-Ti 512** on cpu ({CPU_PRECISION}), tracker: SAM 2."
    assert (size["choices"], size["value"], size["visible"]) == ([512], 512, False)


def test_a_local_copy_of_a_hub_checkpoint_has_one_name_in_the_menu_the_status_line_and_compare(
        fake_hub, family_weights):  # noqa: F811
    """Started with checkpoints/sam2.1_hiera_tiny.pt: the page calls it "SAM 2.1 tiny" everywhere and
    does not list the same file a second time under the Hub entry."""
    settings = settings_for(family_weights, "--checkpoint", str(family_weights / "sam2.1_hiera_tiny.pt"),
                            "--config", "configs/sam2.1/sam2.1_hiera_t.yaml")
    engines = EngineCache(settings)
    menu = model_menu(settings, engines)
    labels = [label for label, _ in menu.choices]
    assert labels[0] == "SAM 2.1 tiny" and labels.count("SAM 2.1 tiny") == 1, labels
    assert "facebook/sam2.1-hiera-tiny" not in [model_id for _, model_id in menu.choices]
    assert "SAM 2.1 tiny at 512 px" in menu.compare, "Compare's choices use the same name"
    events = PageEvents(ModelCalls(engines), Limits(), menu)
    assert events._status(ModelChoice(settings.model_id)).startswith("Model: **SAM 2.1 tiny** on cpu")
    renamed = settings_for(family_weights, "--checkpoint", str(family_weights / "edgetam.pt"), "--config", "sam2.1_hiera_t")
    assert configured_model(renamed).label == "edgetam.pt (sam2.1_hiera_t)", "another file keeps its own name"


def test_weights_that_do_not_fit_the_config_are_named_in_the_page(family_weights, tmp_path):  # noqa: F811
    checkpoint = family_weights / "edgetam.pt"
    settings = settings_for(tmp_path, "--checkpoint", str(checkpoint), "--config", "efficienttam_s")
    demo = build_ui(settings, EngineCache(settings))
    [status] = [block.value for block in demo.blocks.values() if getattr(block, "elem_id", None) == "model-status"]
    assert status == (f"Could not load edgetam.pt (efficienttam_s): checkpoint {checkpoint} does not match config "
                      "efficienttam_s (wrong config for these weights?); these weights fit edgetam (the keys that "
                      "differ are in the server's log).")


# ------------------------------------------------------------------------------- offline
def test_offline_the_hub_is_asked_once_and_a_model_not_here_fails_at_once_and_is_remembered(
        monkeypatch, tmp_path):
    probes, loads = [], []
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(weights, "HUB", weights.HubAccess(probe=lambda: probes.append(1) or "no route to the Hub"))
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", lambda *a, **k: pytest.fail("no download when offline"))
    original = loading.load_engine
    monkeypatch.setattr(loading, "load_engine", lambda *a: loads.append(a) or original(*a))
    settings = settings_for(tmp_path, "--model", "facebook/sam2.1-hiera-tiny")
    engines = EngineCache(settings)
    first, again = engines.get(), engines.get()
    assert isinstance(first, ModelUnavailable) and again is first
    assert "not on this machine and no route to the Hub" in first.message and "sam2.1_hiera_tiny.pt" in first.message
    assert len(probes) == 1 and len(loads) == 1
    assert not weights.downloads_allowed() and len(probes) == 1
    menu = menu_models(settings)
    assert all(local_weights(model, settings) is not None or model == menu[0] for model in menu), \
        "offline, only models whose weights are here are offered"


def test_the_probe_says_why_the_hub_cannot_be_reached_and_takes_only_the_hubs_answer(monkeypatch):
    import http.server
    import threading

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setattr(hub_constants, "ENDPOINT", f"http://127.0.0.1:{port}")
    began = time.monotonic()
    reason = weights.probe_hub()
    assert reason.startswith(f"the Hugging Face Hub (http://127.0.0.1:{port}) cannot be reached") and \
        time.monotonic() - began < 2

    described = f"/api/models/{weights.PROBED_MODEL}"

    class Hub(http.server.BaseHTTPRequestHandler):
        """Describes the probed model; a proxy's 404 for anything else."""

        def do_HEAD(self):
            self.send_response(200 if self.path == described else 404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Hub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(hub_constants, "ENDPOINT", f"http://127.0.0.1:{server.server_port}")
    assert weights.probe_hub() is None
    monkeypatch.setattr(weights, "PROBED_MODEL", "someone/else")
    assert "cannot be reached (HTTP 404" in weights.probe_hub()
    server.shutdown()
