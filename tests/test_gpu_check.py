"""``python -m bench.gpu_check`` stays runnable: its CPU test mode runs every section on a tiny
clip (hiera-t at 128 px where the reference takes part, the tiny random config elsewhere, the
``vos_optimized`` builds traced but run eagerly), and without CUDA the default run says so.

The CPU mode runs once per module; it includes the reference (installed by oracle/reference_env.py)
only when this module's ``parity`` test is selected and the reference can be had."""

import math
import os
import re
import subprocess
import sys
from dataclasses import dataclass

import pytest

from conftest import synthetic_frames
from oracle import reference_env
from oracle.paths import REPO
from tracker.media.video_io import write_mp4

CLIP_FRAMES = 12
GROWTH_FROM = 3
TIMEOUT = 900  # seconds; a wedged run fails instead of hanging the suite


@dataclass(frozen=True)
class CheckRun:
    stdout: str
    with_reference: bool


def gpu_check(*args: str, env: dict = None) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "bench.gpu_check", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=TIMEOUT)
    print(proc.stdout)
    return proc


@pytest.fixture(scope="module")
def cpu_run(request, tmp_path_factory) -> CheckRun:
    """One run of every section in the CPU test mode."""
    clip = str(write_mp4(tmp_path_factory.mktemp("gpu_check") / "square.mp4", synthetic_frames(CLIP_FRAMES), fps=10))
    parity_selected = any(
        getattr(item, "module", None) is request.module and item.get_closest_marker("parity")
        for item in request.session.items
    )
    with_reference = parity_selected and reference_env.find_or_install_reference() is not None
    proc = gpu_check(
        "--device", "cpu", "--precision", "fp32", "--image-size", "128", "--configs", "sam2.1_hiera_t",
        "--modes", "eager", "vos", "--trace-only", "--config", "test_tiny", "--video", clip, "--frames", "3",
        "--parity-frames", "4", "--long-video", clip, "--growth-from", str(GROWTH_FROM), "--app-frames", "3",
        *([] if with_reference else ["--no-reference"]),
        # One torch thread per process: on a busy 2-core machine two-thread teams spin and run ~10x slower.
        env=dict(os.environ, OMP_NUM_THREADS="1"),
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return CheckRun(proc.stdout, with_reference)


def speed_rows(stdout: str) -> dict:
    """mode -> (ours s/frame, reference s/frame or None, ours/reference or None) from the speed table."""
    rows = {}
    for line in stdout.splitlines():
        if line.startswith("| sam2.1_hiera_t |"):
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            rows[cells[1]] = tuple(None if cell == "-" else float(cell) for cell in cells[2:5])
    return rows


def test_without_cuda_the_default_run_says_so_and_checks_nothing():
    proc = gpu_check(env=dict(os.environ, CUDA_VISIBLE_DEVICES=""))
    assert proc.returncode == 0, proc.stderr
    assert "No CUDA device" in proc.stdout and "nothing was checked" in proc.stdout
    assert proc.stdout.count("\n") == 1, "it printed more than the one line"


def test_cpu_mode_times_ours_and_reports_memory_and_app_latency(cpu_run):
    stdout = cpu_run.stdout
    assert "gpu_check: 4 of 4 sections ok" in stdout

    rows = speed_rows(stdout)
    assert set(rows) == {"eager", "vos"}
    assert all(ours > 0 for ours, _, _ in rows.values())

    samples = re.findall(r"^  frame +(\d+): +([\d.]+)$", stdout, re.M)
    assert [int(frame) for frame, _ in samples] == [0, 3, 6, 9, CLIP_FRAMES - 1]
    assert all(float(mib) > 0 for _, mib in samples)
    growth = re.search(rf"growth per frame \(frame {GROWTH_FROM} to {CLIP_FRAMES - 1}\): (-?[\d.]+) KiB", stdout)
    assert growth and math.isfinite(float(growth.group(1)))

    latency = stdout.split("== 5. app latency ==")[1].split("(latency: ok")[0]
    assert len(re.findall(r"\d+\.\d+ s\b", latency)) >= 5, latency


@pytest.mark.parity
def test_cpu_mode_matches_and_times_the_reference(cpu_run):
    if not cpu_run.with_reference:
        pytest.skip(f"reference sam2=={reference_env.REFERENCE_VERSION} unavailable: "
                    f"{reference_env.last_failure_reason}")
    parity = re.search(r"parity: min IoU ([\d.]+) over (\d+) masks .*: (PASS|FAIL)", cpu_run.stdout)
    assert parity, cpu_run.stdout
    assert float(parity.group(1)) >= 0.99 and int(parity.group(2)) > 0 and parity.group(3) == "PASS"

    rows = speed_rows(cpu_run.stdout)
    assert set(rows) == {"eager", "vos"}
    for ours, reference, ratio in rows.values():
        assert ours > 0 and reference > 0
        assert ratio == pytest.approx(ours / reference, rel=0.02, abs=0.01)
