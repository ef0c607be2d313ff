"""Resident memory stays flat while a long video is tracked through the official API, with
the C heap as the process found it (issue 29): 150 frames of 720p noise at a tiny model's 512 px."""

import json
import os
import subprocess
import sys

from media import ffmpeg
from oracle.paths import REPO
from sam2.assembly.random_weights import save_random_checkpoint

FRAMES = 150
WARMED_UP = 10  # the first frames fill the memory bank and the allocator's pools
GROWTH_BOUND_MIB = 30  # measured: -5 to +7 MiB now; +54 to +62 MiB when tracked frames stayed in the caches


def test_resident_memory_stops_growing_once_the_memory_bank_is_full(tmp_path):
    video = tmp_path / "noise.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30,noise=alls=40:allf=t", "-frames:v", str(FRAMES),
           "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(video))
    checkpoint = save_random_checkpoint("test_tiny", str(tmp_path / "tiny.pt"))
    worker = subprocess.run(
        [sys.executable, str(REPO / "tests" / "long_video_worker.py"), "test_tiny", checkpoint, "512", str(video),
         str(WARMED_UP), str(FRAMES - 1)],
        cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)), capture_output=True, text=True, check=True,
    )
    resident = {int(frame): mib for frame, mib in json.loads(worker.stdout.splitlines()[-1]).items()}
    growth = resident[FRAMES - 1] - resident[WARMED_UP]
    assert growth <= GROWTH_BOUND_MIB, f"resident memory grew {growth:.0f} MiB from frame {WARMED_UP} to {FRAMES - 1}"
