"""The tutorial's quick start (../shared/seed) runs unchanged, with weights from the hub cache."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from oracle.paths import REPO, SEED_TUTORIAL
from sam2.assembly.configs import get_config
from sam2.assembly.model_builder import build_model
from sam2.build_sam import HF_MODEL_ID_TO_FILENAMES

SEED = SEED_TUTORIAL
MODEL_ID = "facebook/sam2-hiera-base-plus"


def quick_start_blocks() -> list:
    """The first four ```python blocks of the tutorial: the user's code."""
    if not SEED.exists():
        pytest.skip(f"tutorial {SEED} is not available (it lives in ../shared/seed beside the checkout)")
    blocks = re.findall(r"```python\n(.*?)```", SEED.read_text(encoding="utf-8"), flags=re.S)
    return blocks[:4]


def fake_hub_cache(home: Path, model_id: str) -> None:
    """Put random official-format weights where huggingface_hub looks for a cached download."""
    config_file, filename = HF_MODEL_ID_TO_FILENAMES[model_id]
    commit = "0" * 40
    repo_dir = home / "hub" / ("models--" + model_id.replace("/", "--"))
    snapshot = repo_dir / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (repo_dir / "refs").mkdir()
    (repo_dir / "refs" / "main").write_text(commit)
    torch.manual_seed(0)
    torch.save({"model": build_model(get_config(config_file)).state_dict()}, snapshot / filename)


def test_tutorial_quick_start_runs_unchanged(tmp_path):
    blocks = quick_start_blocks()
    assert "build_sam2_video_predictor_hf" in blocks[0] and "propagate_in_video" in blocks[3]
    fake_hub_cache(tmp_path / "hf", MODEL_ID)
    script = tmp_path / "quick_start.py"
    script.write_text("\n".join(blocks), encoding="utf-8")
    env = dict(os.environ, HF_HOME=str(tmp_path / "hf"), HF_HUB_OFFLINE="1", PYTHONPATH=str(REPO))
    result = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "视频帧数：2" in result.stdout
    assert "视频分辨率：256x256" in result.stdout
    assert "torch.Size([1, 1, 256, 256])" in result.stdout
    assert "成功追踪2帧" in result.stdout
