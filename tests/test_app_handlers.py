"""The app's handlers as plain functions on the tiny model: the whole flow without a server."""

import json
import zipfile

import numpy as np
import pytest
from PIL import Image

from conftest import synthetic_frames
from sam2.frame_source import open_frame_source
from sam2.mask_rle import decode, from_coco
from tracker import handlers
from tracker.engine import Engine
from tracker.settings import Limits
from tracker.video_io import write_mp4


@pytest.fixture()
def engine(tiny_engine):
    return tiny_engine


@pytest.fixture()
def video(tmp_path):
    return str(write_mp4(tmp_path / "square.mp4", synthetic_frames(8), fps=10))


@pytest.fixture()
def session(engine, video):
    return handlers.open_video(engine, video)


def test_open_video_reports_size_length_and_fps(session):
    assert handlers.video_info(session) == "square.mp4: 64x48, 8 frames, 10.00 fps, 0.8 s"
    assert handlers.render_frame(session, 0).shape == (48, 64, 3)


def test_clicks_draw_points_and_masks(engine, session):
    plain = handlers.render_frame(session, 2)
    shown = handlers.click(engine, session, 2, 20, 20, handlers.INCLUDE)
    assert not np.array_equal(plain, shown)
    assert 1 in session.masks.unpacked(2)
    handlers.click(engine, session, 2, 60, 40, handlers.EXCLUDE)
    assert [c.positive for c in session.current.clicks[2]] == [True, False]
    handlers.undo_click(engine, session, 2)
    assert [c.positive for c in session.current.clicks[2]] == [True]


def test_box_takes_two_corners(engine, session):
    handlers.click(engine, session, 0, 5, 5, handlers.BOX)
    assert session.current.boxes == {} and session.pending_corner == (0, 5, 5)
    handlers.click(engine, session, 0, 40, 30, handlers.BOX)
    assert session.current.boxes == {0: (5, 5, 40, 30)} and session.pending_corner is None
    assert session.state.obj_ids == [1]


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda e, s: handlers.click(e, s, 0, 500, 5, handlers.INCLUDE), "outside"),
        (lambda e, s: handlers.click(e, s, 99, 5, 5, handlers.INCLUDE), "does not exist"),
        (lambda e, s: handlers.undo_click(e, s, 0), "Nothing to undo"),
        (lambda e, s: list(handlers.track(e, s)), "Click on the object"),
        (lambda e, s: handlers.export_all(s), "track the objects first"),
        (lambda e, s: handlers.select_object(s, 7), "no object 7"),
    ],
)
def test_mistakes_get_a_clear_message(engine, session, call, message):
    with pytest.raises(handlers.UserError, match=message):
        call(engine, session)


def test_unreadable_upload_is_reported(engine, tmp_path):
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video")
    with pytest.raises(handlers.UserError, match="not a video that can be read"):
        handlers.open_video(engine, str(bad))


def test_objects_are_limited_and_removable(engine, video):
    session = handlers.open_video(engine, video, Limits(max_objects=3))
    assert handlers.add_object(session) == 2
    assert handlers.add_object(session) == 3
    with pytest.raises(handlers.UserError, match="At most 3 objects"):
        handlers.add_object(session)
    handlers.click(engine, session, 0, 20, 20, handlers.INCLUDE)
    handlers.remove_object(engine, session, 3)
    assert sorted(session.objects) == [1, 2] and session.current_obj_id == 1
    assert session.state.obj_ids == []


def test_track_streams_chunks_then_tracks_backwards(engine, session):
    handlers.click(engine, session, 3, 20, 20, handlers.INCLUDE)
    updates, chunk_sizes = [], []
    for update in handlers.track(engine, session, stream_seconds=0.0):
        updates.append(update)
        chunk_sizes.append(update.chunk.stat().st_size if update.chunk else None)
    assert [u.frame_idx for u in updates if u.chunk is not None] == [3, 4, 5, 6, 7, 3, 2, 1, 0]
    assert updates[-1].done == updates[-1].total == 9
    assert all(size > 0 for size in chunk_sizes if size is not None)
    assert session.tracked_frames() == list(range(8)) and session.dirty_from is None
    assert not updates[0].chunk.parent.exists(), "the stream's chunks are deleted once tracking ends"


def test_a_prompt_on_frame_1_is_tracked_back_to_frame_0(engine, session):
    handlers.click(engine, session, 1, 20, 20, handlers.INCLUDE)
    frames = [u.frame_idx for u in handlers.track(engine, session, stream_seconds=0.0)]
    assert frames == [1, 2, 3, 4, 5, 6, 7, 1, 0]
    assert session.tracked_frames() == list(range(8))


def test_stop_keeps_what_was_done(engine, session):
    handlers.click(engine, session, 0, 20, 20, handlers.INCLUDE)
    updates = []
    for update in handlers.track(engine, session, stream_seconds=0.0):
        updates.append(update)
        if update.frame_idx == 2:
            handlers.request_stop(session)
    assert [u.frame_idx for u in updates][-1] == 2
    assert session.tracked_frames() == [0, 1, 2] and session.dirty_from == 0


def test_close_waits_for_the_request_using_the_session(engine, session):
    from tracker.session import SessionClosed

    handlers.click(engine, session, 0, 20, 20, handlers.INCLUDE)
    versions = []
    for _ in range(3):
        versions.append(session.output_path("result.txt"))
        versions[-1].write_text("for the user")
    assert [path.exists() for path in versions] == [False, True, True], "two versions of a file are kept"
    output = versions[-1]
    with session.in_use():
        session.close()
        assert session.stop_requested.is_set() and output.exists()
        handlers.render_frame(session, 0)
    assert not output.exists() and not session.work_dir.exists() and session.state.objects == []
    with pytest.raises(SessionClosed):
        with session.in_use():
            pass


def test_correction_retracks_only_from_the_corrected_frame(engine, session):
    handlers.click(engine, session, 0, 20, 20, handlers.INCLUDE)
    list(handlers.track(engine, session, stream_seconds=0.0))
    before = {f: session.masks.unpacked(f)[1] for f in range(8)}
    handlers.click(engine, session, 5, 45, 30, handlers.EXCLUDE)
    frames = [u.frame_idx for u in handlers.track(engine, session, stream_seconds=0.0) if u.chunk is not None]
    assert frames == [5, 6, 7]
    for f in range(5):
        assert np.array_equal(session.masks.unpacked(f)[1], before[f])


def test_exports_contain_every_mask(engine, session):
    handlers.click(engine, session, 0, 20, 20, handlers.INCLUDE)
    handlers.add_object(session)
    handlers.click(engine, session, 0, 50, 40, handlers.INCLUDE)
    list(handlers.track(engine, session, stream_seconds=0.0))
    files = handlers.export_all(session)
    overlay = open_frame_source(str(files.overlay_video))
    assert (overlay.num_frames, overlay.video_width, overlay.video_height, overlay.fps) == (8, 64, 48, 10.0)
    with zipfile.ZipFile(files.mask_pngs) as archive:
        names = sorted(archive.namelist())
        assert len(names) == 16 and names[0] == "1/00000.png"
        png = np.array(Image.open(archive.open("2/00004.png")))
        assert png.shape == (48, 64) and np.array_equal(png > 0, session.masks.unpacked(4)[2])
    with zipfile.ZipFile(files.davis_pngs) as archive:
        label = Image.open(archive.open("00003.png"))
        assert label.mode == "P" and set(np.unique(np.array(label))) <= {0, 1, 2}
    coco = json.loads(files.coco_json.read_text())
    assert len(coco["annotations"]) == 16
    first = coco["annotations"][0]
    assert np.array_equal(decode(from_coco(first["segmentation"])), session.masks.unpacked(first["image_id"])[first["object_id"]])


def test_settings_from_environment_and_flags():
    from tracker.settings import AppSettings

    settings = AppSettings.from_sources([], {"SAM2_DEVICE": "cpu"})
    assert (settings.model_id, settings.host, settings.port) == ("facebook/sam2.1-hiera-tiny", "127.0.0.1", 7860)
    gpu = AppSettings.from_sources(["--port", "9000"], {"SAM2_DEVICE": "cuda", "GRADIO_SERVER_NAME": "0.0.0.0"})
    assert (gpu.model_id, gpu.host, gpu.port) == ("facebook/sam2.1-hiera-base-plus", "0.0.0.0", 9000)
    local = AppSettings.from_sources([], {"SAM2_CHECKPOINT": "w.pt", "SAM2_CONFIG": "sam2.1_hiera_t", "SAM2_DEVICE": "cpu"})
    assert (local.checkpoint, local.config) == ("w.pt", "sam2.1_hiera_t")
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
    from sam2.random_weights import save_random_checkpoint
    from tracker import model_loading
    from tracker.settings import AppSettings

    checkpoint = tmp_path / "w.pt"
    save_random_checkpoint("sam2.1_hiera_t", str(checkpoint))
    env = {"SAM2_DEVICE": "cpu", "SAM2_CHECKPOINT": str(checkpoint), "SAM2_CONFIG": "sam2.1_hiera_t"}
    engine = model_loading.load_engine(AppSettings.from_sources(["--image-size", "256"], env))
    assert engine.name == "w.pt (sam2.1_hiera_t) at 256 px" and engine.predictor.image_size == 256
    session = handlers.open_video(engine, video)
    handlers.click(engine, session, 0, 20, 20, handlers.INCLUDE)
    assert session.state.cached_features[0].vision.shape[-2:] == (16, 16)  # stride 16 at 256 px
    list(handlers.track(engine, session))
    assert [session.masks.unpacked(i)[1].shape for i in range(8)] == [(48, 64)] * 8


def test_missing_weights_say_what_to_do(monkeypatch, tmp_path):
    from tracker import model_loading
    from tracker.settings import AppSettings

    def offline(model_id, filename):
        raise OSError("no network")

    monkeypatch.setattr(model_loading, "_download", offline)
    settings = AppSettings.from_sources(["--checkpoints-dir", str(tmp_path)], {"SAM2_DEVICE": "cpu"})
    result = model_loading.load_engine(settings)
    assert isinstance(result, model_loading.ModelUnavailable)
    assert "sam2.1_hiera_tiny.pt" in result.message and str(tmp_path) in result.message
    assert "SAM2_CHECKPOINT" in result.message


def test_weights_in_checkpoints_folder_are_used_before_downloading(monkeypatch, tmp_path):
    from sam2.random_weights import save_random_checkpoint
    from tracker import model_loading
    from tracker.settings import AppSettings

    save_random_checkpoint("sam2.1_hiera_t", str(tmp_path / "sam2.1_hiera_tiny.pt"))
    monkeypatch.setattr(model_loading, "_download", lambda *a: pytest.fail("should not download"))
    settings = AppSettings.from_sources(["--checkpoints-dir", str(tmp_path)], {"SAM2_DEVICE": "cpu"})
    engine = model_loading.load_engine(settings)
    assert isinstance(engine, Engine) and engine.name == "facebook/sam2.1-hiera-tiny"
    assert engine.predictor.add_all_frames_to_correct_as_cond
