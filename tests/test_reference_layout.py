"""All 8 official configs: our parameter names and shapes are exactly the reference's."""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from oracle import reference_env
from oracle.paths import REPO
from sam2.build_sam import HF_MODEL_ID_TO_FILENAMES

MANIFEST_SCRIPT = REPO / "oracle" / "state_manifest.py"
OFFICIAL_CONFIGS = sorted(config for config, _ in HF_MODEL_ID_TO_FILENAMES.values())


def run_manifest(env: dict, cwd: Path) -> dict:
    result = subprocess.run(
        [sys.executable, str(MANIFEST_SCRIPT), *OFFICIAL_CONFIGS],
        env=env, cwd=cwd, capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def manifests(tmp_path_factory):
    reference = reference_env.find_or_install_reference()
    if reference is None:
        reason = f"reference sam2==1.1.0 unavailable: {reference_env.last_failure_reason}"
        print(reason)
        pytest.skip(reason)
    cwd = tmp_path_factory.mktemp("manifest")
    ours_env = reference.subprocess_env()
    ours_env["PYTHONPATH"] = str(REPO)
    return run_manifest(reference.subprocess_env(), cwd), run_manifest(ours_env, cwd)


@pytest.mark.parametrize("config_file", OFFICIAL_CONFIGS)
def test_state_dict_layout_matches_reference(manifests, config_file):
    reference, ours = manifests[0][config_file], manifests[1][config_file]
    assert sorted(set(reference) - set(ours)) == [], "keys missing in ours"
    assert sorted(set(ours) - set(reference)) == [], "keys the reference does not have"
    assert {k: v for k, v in ours.items() if reference[k] != v} == {}
    count = sum(math.prod(shape) for shape in ours.values())
    assert count == sum(math.prod(shape) for shape in reference.values())
    print(f"{config_file}: {len(ours)} tensors, {count:,} values, identical layout")
