"""Official-format YAML configs are read without Hydra: the official files give our presets, a
changed copy builds what it says, anything this implementation cannot build is an error that
names it; and a script written for the official package (installed elsewhere with pip) that
loads frames with sam2.utils.misc, builds from the official config file, tracks and reads
``inference_state["output_dict_per_obj"]`` gives the reference's output."""

import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from oracle.paths import REPO
from sam2.assembly.configs import PRESETS
from sam2.assembly.yaml_config import ConfigFileError, read_config_file
from sam2.build_sam import build_sam2_video_predictor
from test_install import COPY_IGNORE

OFFICIAL_T = "configs/sam2.1/sam2.1_hiera_t.yaml"


@pytest.fixture(scope="module")
def official_configs(reference_sam2):
    return reference_sam2.pkg_dir / "sam2"


def test_every_official_model_config_reads_as_its_preset(official_configs):
    files = sorted([*official_configs.glob("configs/sam2/*.yaml"), *official_configs.glob("configs/sam2.1/*.yaml")])
    assert len(files) == 8
    for path in files:
        assert read_config_file(str(path)).config == PRESETS[path.stem], path.name
    [training] = official_configs.glob("configs/sam2.1_training/*.yaml")
    with pytest.raises(ConfigFileError, match="no 'model:' section"):
        read_config_file(str(training))


def changed_copy(official_configs, tmp_path, old: str, new: str) -> str:
    text = (official_configs / OFFICIAL_T).read_text()
    assert old in text
    copy = tmp_path / "fine_tune.yaml"
    copy.write_text(text.replace(old, new, 1))
    return str(copy)


@pytest.mark.parametrize("old, new, message", [
    ("sam2.modeling.memory_encoder.CXBlock", "my_lab.blocks.FancyBlock",
     "model.memory_encoder.fuser.layer._target_ = my_lab.blocks.FancyBlock is a class this implementation does not know"),
    ("  num_maskmem: 7", "  num_maskmem: 7\n  memory_bank_size: 3", "unknown key model.memory_bank_size"),
    ("  use_obj_ptrs_in_encoder: true", "  use_obj_ptrs_in_encoder: false",
     "model.use_obj_ptrs_in_encoder = False; this implementation builds True"),
    ("  pred_obj_scores: true\n", "", "model.pred_obj_scores is not given (the official default is False)"),
    ("kv_in_dim: 64", "kv_in_dim: 32", "model.memory_attention.layer.cross_attention.kv_in_dim = 32 does not fit"),
    ("  proj_tpos_enc_in_obj_ptrs: true", "  proj_tpos_enc_in_obj_ptrs: false", "neither SAM 2.0's nor SAM 2.1's"),
])
def test_what_cannot_be_built_is_named(official_configs, tmp_path, old, new, message):
    with pytest.raises(ConfigFileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_config_file(changed_copy(official_configs, tmp_path, old, new))


def test_a_changed_copy_builds_what_it_says(official_configs, tmp_path):
    path = changed_copy(official_configs, tmp_path, "image_size: 1024", "image_size: 256\n  fill_hole_area: 0")
    predictor = build_sam2_video_predictor(path, device="cpu")
    assert predictor.image_size == 256 and predictor.fill_hole_area == 0
    assert predictor.model_config.name == "fine_tune" and predictor.model_config.trunk == PRESETS["sam2.1_hiera_t"].trunk
    default = build_sam2_video_predictor(str(official_configs / OFFICIAL_T), device="cpu")
    assert default.image_size == 1024 and default.fill_hole_area == 8


DROP_IN_SCRIPT = r"""
import sys
import numpy as np
import torch
import sam2
from sam2.build_sam import build_sam2_video_predictor
from sam2.utils.misc import load_video_frames

checkpoint, out = sys.argv[1:3]
frames, height, width = load_video_frames("frames", 128, offload_video_to_cpu=True, compute_device=torch.device("cpu"))
predictor = build_sam2_video_predictor("configs/sam2.1/sam2.1_hiera_t.yaml", checkpoint, device="cpu",
                                       hydra_overrides_extra=["++model.image_size=128"])
predictor.fill_hole_area = 0
with torch.inference_mode():
    state = predictor.init_state("frames")
    predictor.add_new_points_or_box(state, 0, 1, points=[[40, 30]], labels=[1])
    masks = {frame: (logits > 0).numpy() for frame, _, logits in predictor.propagate_in_video(state)}
    outputs = state["output_dict_per_obj"][0]
    pointers = np.stack([outputs["non_cond_frame_outputs"][f]["obj_ptr"].numpy() for f in (1, 2)])
np.savez(out, frames=frames.numpy(), size=np.array([height, width]), masks=np.stack([masks[f] for f in sorted(masks)]),
         cond=np.array(sorted(outputs["cond_frame_outputs"])), pointers=pointers)
print(sam2.__file__)
"""


def test_a_script_for_the_official_package_runs_unchanged_on_ours(reference_sam2, official_configs, tmp_path):
    from sam2.assembly.random_weights import save_random_checkpoint

    installed, source = tmp_path / "site", tmp_path / "source"
    shutil.copytree(REPO, source, ignore=COPY_IGNORE)  # pip builds in the tree it is given
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index",
                          "--target", str(installed), str(source)], capture_output=True, text=True, timeout=600)
    assert pip.returncode == 0, pip.stderr[-2000:]
    work = tmp_path / "user"  # outside the repository, as a user's folder
    (work / "frames").mkdir(parents=True)
    rng = np.random.default_rng(5)
    for index in range(3):
        Image.fromarray(rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)).save(work / "frames" / f"{index:05d}.jpg")
    (work / OFFICIAL_T).parent.mkdir(parents=True)
    shutil.copy(official_configs / OFFICIAL_T, work / OFFICIAL_T)
    checkpoint = save_random_checkpoint("sam2.1_hiera_t", str(tmp_path / "tiny.pt"))
    results = {}
    for name, pythonpath in (("reference", reference_sam2.pythonpath), ("ours", str(installed))):
        env = dict(reference_sam2.subprocess_env(), PYTHONPATH=pythonpath)
        run = subprocess.run([sys.executable, "-c", DROP_IN_SCRIPT, checkpoint, str(tmp_path / f"{name}.npz")],
                             cwd=work, env=env, capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, (name, run.stderr[-3000:])
        assert run.stdout.strip().startswith(pythonpath.split(":")[0]), run.stdout
        results[name] = dict(np.load(tmp_path / f"{name}.npz"))
    ours, theirs = results["ours"], results["reference"]
    assert np.array_equal(ours["frames"], theirs["frames"]) and np.array_equal(ours["size"], theirs["size"])
    assert np.array_equal(ours["cond"], theirs["cond"]) and ours["masks"].shape == theirs["masks"].shape
    for frame in range(3):
        overlap = (ours["masks"][frame] & theirs["masks"][frame]).sum() / max((ours["masks"][frame] | theirs["masks"][frame]).sum(), 1)
        assert overlap >= 0.999, (frame, overlap)
    np.testing.assert_allclose(ours["pointers"], theirs["pointers"], atol=1e-3, rtol=1e-3)

