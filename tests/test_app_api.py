"""The app's flow through its API with gradio_client: upload, click, track, add an object,
correct a frame, track again, export; the exported files must agree with each other."""

import json
import re
import urllib.request
import zipfile

import numpy as np
import pytest
from PIL import Image

from app_client import finished_overlay
from app_server import REPO, running_app
from conftest import CPU_PRECISION
from sam2.frames.opening import open_frame_source
from tracker.media.mask_rle import decode, from_coco
from sam2.assembly.random_weights import save_random_checkpoint
from oracle.zerogpu import server_environment

gradio_client = pytest.importorskip("gradio_client")
VIDEO = REPO / "assets" / "balls.mp4"


@pytest.mark.parametrize("zerogpu", [False, True], ids=["in-process", "zerogpu-standin"])
def test_full_flow_through_the_api(tmp_path, zerogpu):
    """Also with every model call in a forked ZeroGPU worker (the strict stand-in)."""
    crossings = tmp_path / "zerogpu-calls.jsonl"
    with running_app(tmp_path, extra_env=server_environment(crossings) if zerogpu else None) as url:
        client = gradio_client.Client(url, verbose=False)
        info = client.predict(gradio_client.handle_file(str(VIDEO)), api_name="/open_video")[4]
        assert info == "balls.mp4: 640x360, 96 frames, 24.00 fps, 4.0 s, no sound. Working on frames 0-95 (0.0-4.0 s)."
        client.predict(0, "Include (green)", 180, 250, api_name="/click")
        result = client.submit(api_name="/track").result()
        assert result[4] == "Done: 96 of 96 frames tracked in frames 0-95 (0.0-4.0 s). Overlay video ready."
        assert finished_overlay(result).endswith("balls_f0-95_overlay.mp4")

        choices = client.predict(api_name="/add_object")[4]
        assert choices["value"] == "2: object 2"
        choices = client.predict("ball", api_name="/rename_object")[4]
        assert choices["value"] == "2: ball"
        client.predict(10, "Include (green)", 540, 120, api_name="/click")
        client.predict(30, "Exclude (red)", 500, 100, api_name="/click")
        result = client.submit(api_name="/track").result()
        assert result[4].startswith("Done:")

        files = client.predict(api_name="/export")
        names = [f.rsplit("/", 1)[-1] for f in files]
        assert names == ["balls_f0-95_overlay.mp4", "balls_f0-95_masks.zip", "balls_f0-95_davis.zip",
                         "balls_f0-95_coco_rle.json"]

    overlay = open_frame_source(files[0])
    assert (overlay.num_frames, overlay.video_width, overlay.video_height, overlay.fps) == (96, 640, 360, 24.0)
    coco = json.loads(open(files[3]).read())
    assert [c["name"] for c in coco["categories"]] == ["object 1", "ball"]
    by_key = {(a["image_id"], a["object_id"]): a for a in coco["annotations"]}
    assert len(by_key) == 2 * 96
    with zipfile.ZipFile(files[1]) as pngs, zipfile.ZipFile(files[2]) as davis:
        for frame_idx in (0, 10, 30, 95):
            labels = np.array(Image.open(davis.open(f"{frame_idx:05d}.png")))
            for obj_id in (1, 2):
                folder = {1: "1_object_1", 2: "2_ball"}[obj_id]
                png = np.array(Image.open(pngs.open(f"{folder}/{frame_idx:05d}.png"))) > 0
                rle = decode(from_coco(by_key[(frame_idx, obj_id)]["segmentation"]))
                assert png.shape == (360, 640)
                assert np.array_equal(png, rle)
                assert np.array_equal(labels == obj_id, png & (labels == obj_id)) and (labels == obj_id).sum() <= png.sum()
    if zerogpu:
        names = [json.loads(line)["function"] for line in crossings.read_text().splitlines()]
        assert names.count("_open_video") == 1 and names.count("_edit_prompts") == 3 and names.count("_track") >= 2


def test_page_opens_without_weights_and_says_what_to_do(tmp_path):
    with running_app(tmp_path, with_weights=False) as url:
        client = gradio_client.Client(url, verbose=False)
        with pytest.raises(Exception, match="edgetam.pt"):
            client.predict(gradio_client.handle_file(str(VIDEO)), api_name="/open_video")
        page = urllib.request.urlopen(url + "config").read().decode()
        assert "The weights of EdgeTAM (fast on CPUs) (facebook/EdgeTAM) could not be downloaded" in page
        assert "from the Hugging Face Space facebook/EdgeTAM, file checkpoints/edgetam.pt" in page
        assert "checkpoints/README.md" in page and "SAM2_CONFIG=edgetam" in page


def test_another_model_or_input_size_goes_on_with_the_prompts(tmp_path):
    """Two models (the tiny test model and random SAM 2.0 tiny weights in checkpoints/), input
    sizes offered on the CPU: switching keeps the video and its prompts, Track works after and
    the status line gives its speed."""
    checkpoints = tmp_path / "checkpoints"
    save_random_checkpoint("sam2_hiera_t", str(checkpoints / "sam2_hiera_tiny.pt"))
    env = {"SAM2_CHECKPOINTS_DIR": str(checkpoints), "SAM2_IMAGE_SIZE": "256"}
    with running_app(tmp_path, extra_env=env) as url:
        client = gradio_client.Client(url, verbose=False)
        client.predict(gradio_client.handle_file(str(VIDEO)), api_name="/open_video")
        client.predict(0, "Include (green)", 180, 250, api_name="/click")
        # The configured 256 px is above the tiny model's own 128: it runs at 128.
        status = client.predict("test_tiny.pt (test_tiny)", 128, api_name="/change_size")[4]
        assert status.startswith("Model: **test_tiny.pt (test_tiny)** on cpu ("), status
        switched = client.predict("facebook/sam2-hiera-tiny", 128, api_name="/change_model")
        assert "SAM 2 tiny at 256 px" in switched[4], switched  # 128 is not offered for it: its default
        assert switched[5]["value"] == 256 and [c[1] for c in switched[5]["choices"]] == [256, 512, 768, 1024]
        result = client.predict(api_name="/track")
        assert result[4].startswith("Done: 96 of 96 frames")
        assert re.search(rf"SAM 2 tiny at 256 px\*\* on cpu \({CPU_PRECISION}\), tracker: SAM 2, last Track [0-9.]+ s per frame\.$", result[6])
        with pytest.raises(Exception, match="100 is not"):
            client.predict("facebook/sam2-hiera-tiny", 100, api_name="/change_size")
