"""Starts app.py in a subprocess on a free local port with a tiny random-weights model."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from oracle.metrics import resident_mb
from oracle.paths import REPO


# Random weights of the models the model tests use, under the file names of their Hub checkpoints.
FAMILY_WEIGHTS = {"edgetam": "edgetam.pt", "sam2.1_hiera_t": "sam2.1_hiera_tiny.pt",
                  "efficienttam_ti_512x512": "efficienttam_ti_512x512.pt"}


@pytest.fixture(scope="session")
def family_weights(tmp_path_factory) -> Path:
    """A checkpoints folder with random weights of EdgeTAM, SAM 2.1 tiny and EfficientTAM-Ti 512
    (written once per test run)."""
    from sam2.assembly.random_weights import save_random_checkpoint

    folder = tmp_path_factory.mktemp("checkpoints")
    for config, filename in FAMILY_WEIGHTS.items():
        save_random_checkpoint(config, str(folder / filename))
    return folder


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class AppProcess:
    """A running app: its address, process id, private temporary folder (TMPDIR, where the
    sessions' own folders are) and Gradio's file cache (uploads and the files it serves)."""

    url: str
    pid: int
    tmp: Path
    cache: Path
    log: Path

    def rss_mb(self) -> float:
        """Resident memory of the server process."""
        return resident_mb(self.pid)

    def session_dirs(self) -> list:
        return sorted(self.tmp.glob("sam2-session-*"))


@contextmanager
def app_process(tmp_path: Path, config: str = "test_tiny", extra_env=None, with_weights: bool = True) -> Iterator[AppProcess]:
    """A freshly started app, stopped afterwards, offline. With weights it runs random weights
    of ``config`` from a local file; without, it looks for its default model. Its checkpoints
    folder is empty. ``extra_env`` comes last (e.g. SAM2_CHECKPOINTS_DIR, SAM2_MODEL)."""
    from sam2.assembly.random_weights import save_random_checkpoint

    port = free_port()
    server_tmp, cache = tmp_path / "server-tmp", tmp_path / "gradio-cache"
    server_tmp.mkdir()
    # Offline, with an empty Hugging Face cache of its own: only the weights a test gives are there.
    env = dict(os.environ, SAM2_PORT=str(port), SAM2_DEVICE="cpu", GRADIO_ANALYTICS_ENABLED="False", PYTHONPATH=str(REPO),
               TMPDIR=str(server_tmp), GRADIO_TEMP_DIR=str(cache), HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf"),
               SAM2_ATTENTION_CHOICES=str(tmp_path / "attention-choices.json"))
    for key in ("SAM2_CHECKPOINT", "SAM2_CONFIG", "SAM2_MODEL", "SAM2_IMAGE_SIZE", "HF_HUB_CACHE"):
        env.pop(key, None)
    (tmp_path / "no-weights").mkdir(exist_ok=True)
    env.update(SAM2_CHECKPOINTS_DIR=str(tmp_path / "no-weights"))
    if with_weights:
        env.update(SAM2_CHECKPOINT=save_random_checkpoint(config, str(tmp_path / f"{config}.pt")), SAM2_CONFIG=config)
    env.update(extra_env or {})
    log_path = tmp_path / "app.log"
    log = open(log_path, "w")
    process = subprocess.Popen([sys.executable, str(REPO / "app.py")], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the app did not start:\n{log_path.read_text()[-3000:]}")
                time.sleep(0.5)
        yield AppProcess(url, process.pid, server_tmp, cache, log_path)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@contextmanager
def running_app(tmp_path: Path, config: str = "test_tiny", extra_env=None, with_weights: bool = True) -> Iterator[str]:
    """The base URL of a freshly started app (see :func:`app_process`)."""
    with app_process(tmp_path, config, extra_env, with_weights) as app:
        yield app.url
