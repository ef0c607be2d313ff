"""The app under load, against one server with two model slots and a short queue: concurrent
sessions each get exactly their own masks (or a polite "queue full"), a full queue says so, and
memory comes back after many sessions."""

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import httpx
import numpy as np
import pytest

from app_client import INCLUDE, exported_masks, first_output, gradio_client, new_client, run_session, wait_until
from app_server import app_process
from conftest import model_calls_for, synthetic_frames
from oracle.metrics import mask_iou
from sam2.runtime import attention
from tracker.actions import opening, prompting, tracking
from tracker.model.loading import load_engine
from tracker.settings import AppSettings
from tracker.media.video_io import write_mp4

pytestmark = pytest.mark.load
MAX_JOBS, QUEUE_SIZE = 2, 3
ONE_KERNEL = "fused"
SESSIONS = 3 * MAX_JOBS
QueueError = gradio_client.utils.QueueError


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    # One attention kernel on both sides: the server would time the kernels (as the app does),
    # and kernels agree only up to rounding, which can move a tiny random model's mask edge;
    # this test is about each session getting its own masks, not about kernels.
    env = {"SAM2_MAX_JOBS": str(MAX_JOBS), "SAM2_QUEUE_SIZE": str(QUEUE_SIZE), "GRADIO_HEARTBEAT_INTERVAL": "1",
           "SAM2_ATTENTION": ONE_KERNEL}
    with app_process(tmp_path_factory.mktemp("load"), extra_env=env) as running:
        yield running


@dataclass(frozen=True)
class Request:
    """One user's video and click; every user's video has its own size and length."""

    index: int
    folder: Path

    @property
    def size(self):
        return 64 + 16 * self.index, 48 + 8 * self.index

    @property
    def frames(self) -> int:
        return 8 + self.index

    @property
    def click(self):
        return 16.0 + 3 * self.index, 20.0

    def video(self) -> str:
        path = self.folder / f"user{self.index}.mp4"
        if not path.exists():
            width, height = self.size
            write_mp4(path, synthetic_frames(self.frames, height, width), fps=10)
        return str(path)


@dataclass
class Outcome:
    masks: Optional[Dict[int, np.ndarray]] = None
    refusals: int = 0
    errors: List[str] = field(default_factory=list)


def politely(step, outcome: Outcome, patience: float = 120):
    """Run a client call, retrying while the server says its queue is full."""
    deadline = time.monotonic() + patience
    while True:
        try:
            return step()
        except QueueError:
            outcome.refusals += 1
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def user(url: str, request: Request, start: threading.Barrier, outcome: Outcome) -> None:
    client = new_client(url)
    try:
        start.wait()
        x, y = request.click
        politely(lambda: client.predict(gradio_client.handle_file(request.video()), api_name="/open_video"), outcome)
        politely(lambda: client.predict(0, INCLUDE, x, y, api_name="/click"), outcome)
        progress = politely(lambda: client.predict(api_name="/track"), outcome)[4]
        assert progress.startswith(f"Done: {request.frames} of {request.frames} frames"), progress
        outcome.masks = exported_masks(politely(lambda: client.predict(api_name="/export"), outcome))
    except Exception as error:  # reported by the test, with the user's index
        outcome.errors.append(f"{type(error).__name__}: {error}")
    finally:
        client.close()


@pytest.fixture(scope="module")
def server_engine(app):
    """The server's model, loaded in this process the way the server loads it."""
    env = {"SAM2_CHECKPOINT": str(app.cache.parent / "test_tiny.pt"), "SAM2_CONFIG": "test_tiny", "SAM2_DEVICE": "cpu"}
    return load_engine(AppSettings.from_sources([], env))


def expected_masks(engine, request: Request) -> Dict[int, np.ndarray]:
    """The same request run through the handlers in this process (with the server's kernel)."""
    forced, attention.forced_way = attention.forced_way, ONE_KERNEL
    try:
        return _masks_in_process(engine, request)
    finally:
        attention.forced_way = forced


def _masks_in_process(engine, request: Request) -> Dict[int, np.ndarray]:
    calls = model_calls_for(engine)
    session = opening.open_video(calls, request.video())
    prompting.click(calls, session, *request.click, prompting.INCLUDE)
    for _ in tracking.track(calls, session):
        pass
    masks = {frame: session.masks.unpacked(frame)[1] for frame in range(request.frames)}
    session.close()
    return masks


def test_concurrent_sessions_each_get_their_own_masks(app, server_engine, tmp_path):
    requests = [Request(index, tmp_path) for index in range(SESSIONS)]
    for request in requests:
        request.video()
    outcomes = [Outcome() for _ in requests]
    start = threading.Barrier(SESSIONS)
    users = [threading.Thread(target=user, args=(app.url, r, start, o)) for r, o in zip(requests, outcomes)]
    began = time.monotonic()
    for thread in users:
        thread.start()
    for thread in users:
        thread.join(timeout=300)
    seconds = time.monotonic() - began
    assert not any(thread.is_alive() for thread in users)
    worst = []
    for request, outcome in zip(requests, outcomes):
        assert not outcome.errors, (request.index, outcome.errors)
        masks = outcome.masks
        reference = expected_masks(server_engine, request)
        assert sorted(masks) == list(range(request.frames)), request.index
        width, height = request.size
        assert all(mask.shape == (height, width) for mask in masks.values()), request.index
        worst.append(min(mask_iou(masks[frame], reference[frame]) for frame in masks))
        assert worst[-1] > 0.95, (request.index, worst[-1])
    print(f"\nload: {SESSIONS} concurrent sessions, {MAX_JOBS} model slots, queue of {QUEUE_SIZE}: {seconds:.1f} s, "
          f"{sum(o.refusals for o in outcomes)} 'queue full' refusals (each retried); lowest IoU with the same "
          f"request run alone: {min(worst):.4f}")


def stop_like_the_page(app, client) -> None:
    """Press Stop as the page does: Stop skips the queue, so it works when the queue is full
    (gradio_client would send it through the queue)."""
    # The one input is the tab's session (the page's per-tab state): the server fills it in.
    response = httpx.post(app.url + "gradio_api/run/stop", json={"data": [None], "session_hash": client.session_hash})
    assert response.status_code == 200, response.text


def test_a_full_queue_says_so_and_recovers(app, tmp_path):
    long_video = str(write_mp4(tmp_path / "long.mp4", synthetic_frames(600), fps=30))
    short_video = Request(0, tmp_path).video()
    trackers = [new_client(app.url) for _ in range(MAX_JOBS)]
    waiting = [new_client(app.url) for _ in range(QUEUE_SIZE)]
    latecomer = new_client(app.url)
    for client, video in [(c, long_video) for c in trackers] + [(c, short_video) for c in waiting + [latecomer]]:
        client.predict(gradio_client.handle_file(video), api_name="/open_video")
        client.predict(0, INCLUDE, 20, 20, api_name="/click")
    tracks = [client.submit(api_name="/track") for client in trackers]
    for job in tracks:
        first_output(job)
    clicks = [client.submit(0, INCLUDE, 30, 20, api_name="/click") for client in waiting]
    wait_until(lambda: all(job.status().code == gradio_client.utils.Status.IN_QUEUE for job in clicks), 30,
               "the clicks wait in the queue")
    with pytest.raises(QueueError, match="Queue is full"):
        latecomer.predict(0, INCLUDE, 30, 20, api_name="/click")
    for client in trackers:
        stop_like_the_page(app, client)
    assert all(job.result()[4].startswith("Stopped") for job in tracks)
    for job in clicks:
        job.result()
    latecomer.predict(0, INCLUDE, 30, 20, api_name="/click")
    for client in trackers + waiting + [latecomer]:
        client.close()


def test_memory_returns_after_twenty_sessions(app, tmp_path):
    video = str(write_mp4(tmp_path / "memory.mp4", synthetic_frames(12, 240, 320), fps=10))

    def one_session() -> None:
        client = new_client(app.url)
        run_session(client, video, 40, 20)
        client.close()

    def settled_rss() -> float:
        wait_until(lambda: not app.session_dirs(), 20, "closed sessions are freed")
        time.sleep(1)
        return app.rss_mb()

    # Warm-up: lazy initialisation and the allocator's per-thread arenas of the first sessions.
    for _ in range(3):
        one_session()
    before = settled_rss()
    began = time.monotonic()
    for _ in range(20):
        one_session()
    seconds = time.monotonic() - began
    after = settled_rss()
    print(f"\nmemory: server RSS {before:.1f} MB after 3 warm-up sessions, {after:.1f} MB after 20 more sessions "
          f"({after - before:+.1f} MB, {seconds:.1f} s)")
    # A session left open keeps about 8 MB here (its decoder, frames and model state): 20 would be 160 MB.
    assert after - before < 30, (before, after)
