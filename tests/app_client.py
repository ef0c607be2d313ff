"""Talking to a running app as a user would: gradio_client sessions, raw API calls, polling."""

import json
import time
from typing import Callable, List

import httpx
import pytest

from tracker.media.mask_rle import decode, from_coco

gradio_client = pytest.importorskip("gradio_client")
INCLUDE = "Include (green)"


def new_client(url: str):
    """A new browser-like session; file outputs come back as their server URLs."""
    return gradio_client.Client(url, verbose=False, download_files=False)


def run_session(client, video: str, x: float, y: float, frame: int = 0) -> List[dict]:
    """Open ``video``, click (x, y) on ``frame``, track and export; returns the export files."""
    client.predict(gradio_client.handle_file(video), api_name="/open_video")
    client.predict(frame, INCLUDE, x, y, api_name="/click")
    progress = client.predict(api_name="/track")[4]
    assert progress.startswith("Done:"), progress
    return client.predict(api_name="/export")


def finished_overlay(result: tuple):
    """The overlay video file that /track ends with (output 5): its file data, or its local path
    with a client that downloads files. While tracking, that output streams the growing video;
    the finished file replaces it as an update of the component's value, which the client
    hands over as such."""
    update = result[5]
    assert update["__type__"] == "update", update
    return update["value"]


def exported_masks(files: List[dict]) -> dict:
    """Frame -> object 1's mask, from the exported COCO RLE file (fetched by its URL)."""
    coco = httpx.get(files[3]["url"]).json()
    return {a["image_id"]: decode(from_coco(a["segmentation"])) for a in coco["annotations"] if a["object_id"] == 1}


def raw_call(url: str, api_name: str, data: list) -> tuple:
    """Call an API endpoint without gradio_client (which would upload any local path it is
    given): returns the final server-sent event name and its data."""
    api = url.rstrip("/") + "/gradio_api/call/" + api_name
    event_id = httpx.post(api, json={"data": data}).json()["event_id"]
    lines = httpx.get(f"{api}/{event_id}", timeout=60).text.strip().splitlines()
    event = [line.split(": ", 1)[1] for line in lines if line.startswith("event: ")][-1]
    payload = [line.split(": ", 1)[1] for line in lines if line.startswith("data: ")][-1]
    return event, json.loads(payload)


def file_data(path: str) -> dict:
    return {"path": path, "meta": {"_type": "gradio.FileData"}}


def wait_until(condition: Callable[[], bool], timeout: float, message: str, poll: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout} s: {message}")
        time.sleep(poll)


def first_output(job, timeout: float = 60) -> None:
    """Wait until a streaming job has sent its first update."""
    wait_until(lambda: bool(job.outputs()), timeout, "the job sent no update")
