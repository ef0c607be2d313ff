"""The running app as a public service: bad uploads and requests get a message and break
nothing, uploads stay in the cache, the file route serves only what a session was given,
Stop and cancel release a tracking job, and closed or idle sessions leave nothing behind."""

import http.client
import os
import re
import socket
import time
import urllib.parse
from pathlib import Path

import httpx
import pytest

from app_client import (INCLUDE, file_data, finished_overlay, first_output, gradio_client, new_client, raw_call,
                        run_session,
                        wait_until)
from app_server import REPO, app_process
from conftest import synthetic_frames
from media import CASES, ERRORS
from sam2.frames.opening import open_frame_source
from tracker.media.video_io import write_mp4

TTL_SECONDS = 8
TRACK_FRAMES = 25
SERVICE_ENV = {"SAM2_MAX_FRAMES": "300", "SAM2_MAX_POINTS": "3", "SAM2_MAX_OBJECTS": "2",
               "SAM2_MAX_UPLOAD_MB": "1", "SAM2_SESSION_TTL": str(TTL_SECONDS),
               # Notice closed tabs within a second (Gradio's default heartbeat is 15 s).
               "GRADIO_HEARTBEAT_INTERVAL": "1"}
AppError = gradio_client.exceptions.AppError


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with app_process(tmp_path_factory.mktemp("service"), extra_env=SERVICE_ENV) as running:
        yield running


@pytest.fixture()
def client(app):
    client = new_client(app.url)
    yield client
    client.close()


def small_video(folder: Path, name: str = "good.mp4", frames: int = 6, height: int = 48, width: int = 64) -> str:
    return str(write_mp4(folder / name, synthetic_frames(frames, height, width), fps=10))


def assert_clean_message(error: Exception, app) -> None:
    text = str(error)
    assert "Traceback" not in text and str(app.tmp) not in text and str(app.cache) not in text, text


def test_bad_uploads_get_a_message_and_the_open_video_stays(app, client, tmp_path):
    client.predict(gradio_client.handle_file(small_video(tmp_path)), api_name="/open_video")
    for case in ERRORS:
        with pytest.raises(AppError, match=case.error) as refused:
            client.predict(gradio_client.handle_file(str(case.build(tmp_path))), api_name="/open_video")
        assert_clean_message(refused.value, app)
    # Nothing was lost: the video opened before the bad uploads is still there.
    client.predict(0, INCLUDE, 20, 20, api_name="/click")
    assert client.predict(api_name="/track")[4].startswith("Done: 6 of 6 frames")
    [huge] = [case for case in CASES if case.name == "8K"]
    info = client.predict(gradio_client.handle_file(str(huge.build(tmp_path))), api_name="/open_video")[4]
    assert re.search(huge.notice_pattern(huge.frames), info), info


def test_requests_without_a_video_or_beyond_the_limits_get_a_message(app, client, tmp_path):
    for call in (lambda: client.predict(0, INCLUDE, 5, 5, api_name="/click"), lambda: client.predict(api_name="/track"),
                 lambda: client.predict(api_name="/export")):
        with pytest.raises(AppError, match="Upload a video first"):
            call()
    client.predict(gradio_client.handle_file(small_video(tmp_path)), api_name="/open_video")
    refusals = [
        ((0, INCLUDE, 500, 5), "/click", r"The click \(500, 5\) is outside the 64x48 frame"),
        ((0, INCLUDE, None, 5), "/click", "Give the click's x and y"),
        ((9, INCLUDE, 5, 5), "/click", "Value 9 is greater than maximum value 5"),
    ]
    for args, api_name, message in refusals:
        with pytest.raises(AppError, match=message) as refused:
            client.predict(*args, api_name=api_name)
        assert_clean_message(refused.value, app)
    for x in (10, 20, 30):
        client.predict(0, INCLUDE, x, 20, api_name="/click")
    with pytest.raises(AppError, match="At most 3 points per object on one frame"):
        client.predict(0, INCLUDE, 40, 20, api_name="/click")
    client.predict(api_name="/add_object")
    with pytest.raises(AppError, match="At most 2 objects"):
        client.predict(api_name="/add_object")
    assert client.predict(api_name="/track")[4].startswith("Done: 6 of 6 frames")


def test_uploads_stay_in_the_cache_and_within_the_size_limit(app, tmp_path):
    upload = app.url + "gradio_api/upload"
    too_big = httpx.post(upload, files={"files": ("big.mp4", os.urandom(2**20 + 1), "video/mp4")})
    assert too_big.status_code == 413, too_big.text
    content = Path(small_video(tmp_path)).read_bytes()
    for name in ("../../escape.mp4", "..%2F..%2Fescape.mp4", "/tmp/escape.mp4", "..\\..\\escape.mp4", "a/../../escape.mp4"):
        response = httpx.post(upload, files={"files": (name, content, "video/mp4")})
        assert response.status_code == 200, response.text
        [stored] = response.json()
        assert Path(stored).resolve().parent.parent == app.cache.resolve(), stored
        event, outputs = raw_call(app.url, "open_video", [file_data(stored), None, None, "seconds", "sam2"])
        assert event == "complete" and re.match(r"(2F\.\._2F)?escape\.mp4: 64x48, 6 frames", outputs[4]), outputs
    outside = [p for p in app.cache.parent.rglob("escape.mp4") if app.cache.resolve() not in p.resolve().parents]
    assert not outside and not Path("/tmp/escape.mp4").exists() and not (REPO / "escape.mp4").exists()
    # A path on the server instead of an upload is refused before any handler sees it.
    sessions = len(app.session_dirs())
    for path in ("/etc/passwd", str(REPO / "assets" / "balls.mp4"), str(app.log)):
        event, outputs = raw_call(app.url, "open_video", [file_data(path), None, None, "seconds", "sam2"])
        assert event == "error", (path, outputs)
    assert len(app.session_dirs()) == sessions


def get(app, path: str) -> tuple:
    """GET ``path`` exactly as written (no client-side normalisation of ``..`` or escapes)."""
    connection = http.client.HTTPConnection(urllib.parse.urlsplit(app.url).netloc, timeout=30)
    connection.request("GET", "/" + path)
    response = connection.getresponse()
    return response.status, response.read()


def test_file_route_serves_only_what_a_session_was_given(app, tmp_path):
    owner, other = new_client(app.url), new_client(app.url)
    own_files = run_session(owner, small_video(tmp_path, "own.mp4"), 20, 20)
    other_files = run_session(other, small_video(tmp_path, "other.mp4", height=40), 30, 20)
    own = own_files[0]["path"]
    assert get(app, f"gradio_api/file={own}")[1].startswith(b"\x00\x00\x00 ftyp")
    assert len({Path(f["path"]).parent for f in own_files + other_files}) == 8, "each file has its own folder"
    private = app.session_dirs()[0] / "source.mp4"
    assert private.exists()
    other.close()
    gone = [Path(f["path"]) for f in other_files]
    wait_until(lambda: not any(p.exists() for p in gone), 10, "the closed session's files are deleted")
    cache, up = str(app.cache), "%2e%2e/" * 6
    probes = [
        "gradio_api/file=..%2F..%2F..%2F..%2Fetc%2Fpasswd", "gradio_api/file=/etc/passwd",
        "gradio_api/file=%2Fetc%2Fpasswd", "gradio_api/file=%252Fetc%252Fpasswd",
        "gradio_api/file=..%252F..%252F..%252Fetc%252Fpasswd", "gradio_api/file=%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        f"gradio_api/file={cache}/../../../../../../etc/passwd", f"gradio_api/file={cache}/{up}etc/passwd",
        f"gradio_api/file={cache}/..%2F..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd", "gradio_api/file/etc/passwd",
        "gradio_api/file=/proc/self/environ", "gradio_api/file=~/.bashrc", "gradio_api/file=http://127.0.0.1:9/x",
        f"gradio_api/file={private}", f"gradio_api/file={cache}/../{private.relative_to(app.cache.parent)}",
        f"gradio_api/file={cache}", f"gradio_api/file={app.log}", f"gradio_api/file={app.cache.parent}/test_tiny.pt",
        "gradio_api/file=app.py", f"gradio_api/file={REPO}/tracker/settings.py", f"gradio_api/file={REPO}/assets/balls.mp4",
        *(f"gradio_api/file={path}" for path in gone),
        f"gradio_api/file={Path(own).parent}/../{gone[1].parent.name}/{gone[1].name}",
    ]
    for probe in probes:
        status, body = get(app, probe)
        assert status in (403, 404) and b"root:" not in body, (probe, status, body[:200])
    assert get(app, f"gradio_api/file={own}")[0] == 200, "the session's own file is still served"
    owner.close()


def test_stop_or_cancel_mid_track_then_track_again(app, client, tmp_path):
    client.predict(gradio_client.handle_file(small_video(tmp_path, frames=TRACK_FRAMES, height=120, width=160)),
                   api_name="/open_video")
    client.predict(0, INCLUDE, 40, 30, api_name="/click")
    job = client.submit(api_name="/track")
    first_output(job)
    client.predict(api_name="/stop")
    result = job.result()
    stopped = result[4]
    done = int(re.match(r"Stopped \(what was tracked is kept\): (\d+) of \d+ frames tracked in frames .*\. "
                        r"Overlay video ready\.$", stopped).group(1))
    assert 0 < done < TRACK_FRAMES
    # The overlay holds the tracked frames only, and its name says which.
    overlay = tmp_path / "stopped_overlay.mp4"
    finished = finished_overlay(result)
    overlay.write_bytes(httpx.get(finished["url"]).content)
    source = open_frame_source(str(overlay))
    assert source.num_frames == done and finished["orig_name"].endswith(f"_f0-{done - 1}_overlay.mp4"), finished
    source.close()
    assert client.predict(api_name="/track")[4].startswith("Done:")

    client.predict(10, "Exclude (red)", 100, 80, api_name="/click")
    job = client.submit(api_name="/track")
    first_output(job)
    job.cancel()
    wait_until(job.done, 30, "the cancelled job ends")
    assert client.predict(api_name="/track")[4].startswith(f"Done: {TRACK_FRAMES - 10} of {TRACK_FRAMES - 10} frames")
    files = client.predict(api_name="/export")
    coco = httpx.get(files[3]["url"]).json()
    assert sorted(a["image_id"] for a in coco["annotations"]) == list(range(TRACK_FRAMES))


def test_a_tab_closed_while_tracking_frees_its_session_when_the_job_ends(app, tmp_path):
    client = new_client(app.url)
    before, log_start = set(app.session_dirs()), len(app.log.read_text())
    client.predict(gradio_client.handle_file(small_video(tmp_path, frames=300)), api_name="/open_video")
    [folder] = set(app.session_dirs()) - before
    client.predict(0, INCLUDE, 20, 20, api_name="/click")
    first_output(client.submit(api_name="/track"))
    client.close()
    wait_until(lambda: not folder.exists(), 10, "the session is freed once its tracking job stops")
    assert "Traceback" not in app.log.read_text()[log_start:]


def test_closed_tabs_and_idle_sessions_leave_nothing(app, tmp_path):
    closing, idle, active = new_client(app.url), new_client(app.url), new_client(app.url)
    folders = {}
    for name, client in (("closing", closing), ("idle", idle), ("active", active)):
        before = set(app.session_dirs())
        client.predict(gradio_client.handle_file(small_video(tmp_path, f"{name}.mp4")), api_name="/open_video")
        [folders[name]] = set(app.session_dirs()) - before
    closing.predict(0, INCLUDE, 20, 20, api_name="/click")
    closing.predict(api_name="/track")
    closing_files = closing.predict(api_name="/export")
    closing.close()
    wait_until(lambda: not folders["closing"].exists(), 5, "a closed tab's session folder goes")
    assert not any(Path(f["path"]).exists() for f in closing_files), "a closed tab's files go"
    # Used every two seconds, a session outlives its time-to-live; left idle, it expires.
    expired = time.monotonic() + TTL_SECONDS + 3
    while time.monotonic() < expired:
        active.predict(2, api_name="/show_frame")
        time.sleep(2)
    assert not folders["idle"].exists() and folders["active"].exists()
    with pytest.raises(AppError, match="Upload a video first"):
        idle.predict(0, INCLUDE, 5, 5, api_name="/click")
    active.predict(0, INCLUDE, 5, 5, api_name="/click")
    idle.close()
    active.close()


def outward_address():
    """This machine's address on its network (None when it has only localhost)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the route
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def test_the_app_listens_on_localhost_only(app):
    address = outward_address()
    if address is None:
        pytest.skip("this machine has no network address besides localhost")
    port = urllib.parse.urlsplit(app.url).port
    with pytest.raises(OSError):
        socket.create_connection((address, port), timeout=3).close()
    socket.create_connection(("127.0.0.1", port), timeout=3).close()


def test_without_a_network_the_page_is_up_at_once_and_opening_a_video_waits_for_no_hub(tmp_path):
    """Not told to stay offline (HF_HUB_OFFLINE unset) on a machine whose Hub does not answer:
    the Hub is asked once, briefly, the log says so once, and nothing waits for it again."""
    offline = {"HF_HUB_OFFLINE": "0", "HF_ENDPOINT": "http://10.255.255.1"}  # an address nobody answers
    began = time.monotonic()
    with app_process(tmp_path, extra_env=offline) as app:
        started = time.monotonic() - began
        client = new_client(app.url)
        began = time.monotonic()
        client.predict(gradio_client.handle_file(small_video(tmp_path)), api_name="/open_video")
        opened = time.monotonic() - began
        client.close()
        log = app.log.read_text()
    assert started < 15, f"the page took {started:.1f} s"
    assert opened < 5, f"opening a video took {opened:.1f} s"
    assert log.count("Working offline: the Hugging Face Hub (http://10.255.255.1) cannot be reached") == 1, log[-2000:]
