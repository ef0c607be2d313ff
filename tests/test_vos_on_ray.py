"""tools/vos_inference.py --ray: one task per video on a local 2-CPU Ray cluster, a killed
task retried and reported, a second run skipping finished videos, the same masks as a local
run; and the staging that makes "finished" mean every mask is written."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from conftest import synthetic_frames
from oracle.paths import REPO
from sam2.assembly.random_weights import save_random_checkpoint
from tracker.media.video_io import write_mp4
from vos.evaluation import videos_to_evaluate
from vos.mask_files import VideoMasks, davis_palette
from vos.staging import ATTEMPT_RECORD, StagedVideo, complete_videos

# Long enough (a few seconds a video on one CPU) for the test to kill a task mid-video.
FRAMES = 100
VIDEOS = ("first", "second", "third")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """Two JPEG folders and an mp4, with the moving square and a fixed patch given on frame 0."""
    root = tmp_path_factory.mktemp("vos_ray")
    frames = synthetic_frames(FRAMES)
    for video in VIDEOS[:2]:
        (root / "videos" / video).mkdir(parents=True)
        for index, frame in enumerate(frames):
            Image.fromarray(frame).save(root / "videos" / video / f"{index:05d}.jpg", quality=95)
    write_mp4(root / "videos" / f"{VIDEOS[2]}.mp4", frames, fps=10)
    labels = np.zeros(frames[0].shape[:2], np.uint8)
    labels[30:44, 2:14] = 2
    labels[np.all(frames[0] == (230, 200, 40), axis=-1)] = 1
    for video in VIDEOS:
        VideoMasks(root / "given", video, False).write("00000", {1: labels == 1, 2: labels == 2}, labels.shape,
                                                       davis_palette())
    return root, save_random_checkpoint("test_tiny", str(root / "tiny.pt"))


def tool_command(dataset, out, *flags):
    root, checkpoint = dataset
    return [sys.executable, str(REPO / "tools" / "vos_inference.py"), "--sam2_cfg", "test_tiny",
            "--sam2_checkpoint", checkpoint, "--base_video_dir", str(root / "videos"),
            "--input_mask_dir", str(root / "given"), "--output_mask_dir", str(out), *flags]


def same_arithmetic():
    """One thread and one attention kernel, as a Ray task on one CPU gets: equal masks, bit for bit."""
    return {**os.environ, "OMP_NUM_THREADS": "1", "SAM2_ATTENTION": "fused", "RAY_AUTH_MODE": "disabled"}


def first_attempt(out, timeout=180.0):
    """(video, pid) of the first attempt record that appears under ``out``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for record in out.glob(f".*.attempt-*/{ATTEMPT_RECORD}"):
            try:
                return record.parent.name[1:].split(".attempt-")[0], json.loads(record.read_text())["pid"]
            except (OSError, ValueError):  # being written
                pass
        time.sleep(0.02)
    raise AssertionError(f"no task started under {out} in {timeout} s")


def run_killing_one_task(command, out):
    """Run ``command`` and kill (SIGKILL) the worker of the first task that starts: (exit code,
    output, the video of that task, the pid killed)."""
    run = subprocess.Popen(command, env=same_arithmetic(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        killed_video, pid = first_attempt(out)
        os.kill(pid, signal.SIGKILL)
        log, _ = run.communicate(timeout=600)
    finally:
        run.kill()
    return run.returncode, log, killed_video, pid


def read_masks(out):
    return {(video, frame.name): np.array(Image.open(frame)) for video in VIDEOS
            for frame in sorted((out / video).glob("*.png"))}


def test_a_killed_task_is_retried_and_a_second_run_skips_finished_videos(dataset, tmp_path):
    pytest.importorskip("ray")
    local = subprocess.run(tool_command(dataset, tmp_path / "local"), env=same_arithmetic(),
                           capture_output=True, text=True, timeout=600)
    assert local.returncode == 0, local.stderr[-3000:]

    out = tmp_path / "ray"
    returncode, log, killed_video, pid = run_killing_one_task(tool_command(dataset, out, "--ray"), out)
    assert returncode == 0, log[-3000:]
    assert f"{killed_video}: {FRAMES} frames written" in log and f"after 1 attempt(s) that died (pid {pid}" in log
    assert "3 videos done, 0 failed, 1 retried" in log
    assert not list(out.glob(".*")), "attempt folders are removed"
    ray_masks = read_masks(out)
    assert len(ray_masks) == 3 * FRAMES and ray_masks.keys() == read_masks(tmp_path / "local").keys()
    assert all(np.array_equal(mask, read_masks(tmp_path / "local")[key]) for key, mask in ray_masks.items())

    written = {path: path.stat().st_mtime_ns for path in out.rglob("*.png")}
    again = subprocess.run(tool_command(dataset, out, "--ray"), env=same_arithmetic(), capture_output=True,
                           text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "3 of 3 videos already have all their masks" in again.stdout
    assert {path: path.stat().st_mtime_ns for path in out.rglob("*.png")} == written


def test_a_video_is_moved_in_whole_and_dead_attempts_are_reported(tmp_path):
    dead = StagedVideo.begin(tmp_path, "clip")  # a task killed mid-video: its folder stays
    (dead.staging_root / "clip").mkdir()
    (dead.staging_root / "clip" / "00000.png").write_bytes(b"half a PNG")
    assert complete_videos(tmp_path, ["clip"]) == set()
    assert videos_to_evaluate(tmp_path, tmp_path, strict=True) == []  # attempts are not videos

    retry = StagedVideo.begin(tmp_path, "clip")
    (retry.staging_root / "clip").mkdir()
    for frame in ("00000", "00001"):
        (retry.staging_root / "clip" / f"{frame}.png").write_bytes(b"png")
    died = retry.commit()
    assert [attempt.pid for attempt in died] == [os.getpid()]  # the record of the dead attempt
    assert sorted(path.name for path in (tmp_path / "clip").iterdir()) == ["00000.png", "00001.png"]
    assert complete_videos(tmp_path, ["clip", "other"]) == {"clip"}
    assert [path.name for path in tmp_path.iterdir()] == ["clip"]


def test_an_attempt_that_fails_leaves_the_finished_folder_as_it_was(tmp_path):
    (tmp_path / "clip").mkdir()
    (tmp_path / "clip" / "00000.png").write_bytes(b"earlier run")
    failed = StagedVideo.begin(tmp_path, "clip")
    (failed.staging_root / "clip").mkdir()
    assert failed.abandon() == ()
    assert [path.name for path in tmp_path.iterdir()] == ["clip"]
    assert (tmp_path / "clip" / "00000.png").read_bytes() == b"earlier run"


def test_a_video_whose_retries_are_used_up_is_reported_and_the_next_run_does_it(dataset, tmp_path):
    pytest.importorskip("ray")
    out = tmp_path / "ray"
    command = tool_command(dataset, out, "--ray", "--ray_max_retries", "0")
    returncode, log, killed_video, pid = run_killing_one_task(command, out)
    assert returncode == 1, log[-3000:]
    assert f"{killed_video}: failed: its worker died on each of 1 attempt(s)" in log
    assert "2 videos done, 1 failed" in log
    assert complete_videos(out, VIDEOS) == set(VIDEOS) - {killed_video}

    resumed = subprocess.run(tool_command(dataset, out, "--ray"), env=same_arithmetic(), capture_output=True,
                             text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "2 of 3 videos already have all their masks" in resumed.stdout
    assert f"after 1 attempt(s) that died (pid {pid}" in resumed.stdout
    assert complete_videos(out, VIDEOS) == set(VIDEOS) and not list(out.glob(".*"))


def test_without_ray_the_flag_says_how_to_install_it(dataset, tmp_path):
    hidden = tmp_path / "no_ray"
    (hidden / "ray").mkdir(parents=True)  # a package named ray that fails to import
    (hidden / "ray" / "__init__.py").write_text("raise ImportError('no ray here')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(hidden), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(tool_command(dataset, tmp_path / "out", "--ray"), env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 2 and 'pip install "ray>=2.9"' in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "out").exists()


@pytest.fixture()
def cluster_with_a_gpu(tmp_path):
    """A Ray cluster started with ``ray start`` that says it has one GPU (Ray trusts the count;
    torch finds no CUDA, so the tasks run on the CPU): a stand-in for a GPU machine's placement."""
    pytest.importorskip("ray")
    ray_cli = shutil.which("ray", path=os.path.dirname(sys.executable)) or shutil.which("ray")
    if ray_cli is None:
        pytest.skip("the ray command is not installed")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = same_arithmetic()
    started = subprocess.run([ray_cli, "start", "--head", f"--port={port}", "--num-cpus=2", "--num-gpus=1",
                              "--include-dashboard=false", "--disable-usage-stats"],
                             env=env, capture_output=True, text=True, timeout=180, cwd=tmp_path)
    assert started.returncode == 0, started.stderr[-3000:]
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([ray_cli, "stop", "--force"], env=env, capture_output=True, timeout=180)


def test_on_a_cluster_with_gpus_each_video_gets_one(dataset, tmp_path, cluster_with_a_gpu):
    out = tmp_path / "ray"
    result = subprocess.run(tool_command(dataset, out, "--ray", cluster_with_a_gpu), env=same_arithmetic(),
                            capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    for video in VIDEOS:
        assert f"{video}: {FRAMES} frames written" in result.stdout
    assert result.stdout.count("(cpu), Ray GPU 0") == 3  # one GPU asked for and given; no CUDA here
    assert complete_videos(out, VIDEOS) == set(VIDEOS)
