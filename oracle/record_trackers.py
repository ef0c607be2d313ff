"""Record the official tracking policies' masks once, as small golden files CI checks ours against.

    python -m oracle.record_trackers [--trackers samurai]

CI cannot fetch the policies' code (their forks of ``sam2`` are not on PyPI), so this is run by
hand where a git mirror of each is (see reference_env.py, e.g. ``SAMURAI_GIT_DIR``):

1. the official package is extracted from the mirror at the pinned commit into
   ``.cache/oracles/<tracker>``;
2. the clips of ``occlusion_clips.py`` are made from the still images in ``../shared/data``
   (CI has them too); the golden file notes the hash of their decoded pixels;
3. weights are generated from the SAM 2.1 tiny manifest alone (``manifest_weights.py``), so
   CI regenerates them without any official code; manifest and digest go into the file;
4. each scenario (a clip and a prompt on frame 0) is tracked forward through the official API
   (``run_tracker.py``), and the masks of every frame are kept, bit-packed.

One file per tracker, ``tests/golden/trackers/<tracker>.npz``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from oracle import golden, reference_env
from oracle.frames import pixels_digest
from oracle.manifest_weights import digest, informative_weights, manifest_of
from oracle.occlusion_clips import first_box, make_clip
from oracle.paths import REPO, SHARED_DATA

GOLDEN_DIR = REPO / "tests" / "golden" / "trackers"
IMAGE_SIZE = 512
SEED = 0
NUM_FRAMES = 30
OUR_CONFIG = "configs/sam2.1/sam2.1_hiera_t.yaml"


@dataclass(frozen=True)
class TrackerOracle:
    """An official tracker: its oracle install, the config that switches it on, its commit,
    how run_tracker.py drives it (``impl``; ``ours_impl`` drives ours the same way) and the
    scenarios it is recorded on."""

    name: str
    config: str
    commit: str
    scenarios: tuple
    impl: str = ""
    ours_impl: str = "ours"

    @property
    def official_impl(self) -> str:
        return self.impl or self.name


# run_tracker.py's flag of each SAM2Long setting.
SAM2LONG_FLAGS = {"num_pathway": "--pathways", "iou_thre": "--iou-threshold", "uncertainty": "--uncertainty"}


@dataclass(frozen=True)
class Scenario:
    """A clip and the prompt on its frame 0 (a box around the tracked disc, or a click in it);
    ``sam2long`` holds SAM2Long settings other than its defaults, as (name, value) pairs, and
    ``pathway_log`` records its pathways on every frame, not only the output."""

    name: str
    clip: str
    prompt: str  # "box" or "click"
    sam2long: tuple = ()
    pathway_log: bool = False

    def prompt_args(self) -> list:
        box = first_box(self.clip, NUM_FRAMES)
        settings = [arg for key, value in self.sam2long for arg in (SAM2LONG_FLAGS[key], str(value))]
        settings += ["--pathway-log"] if self.pathway_log else []
        if self.prompt == "box":
            return ["--box", *map(str, box), *settings]
        return ["--click", str((box[0] + box[2]) / 2), str((box[1] + box[3]) / 2), *settings]


EXIT_REENTER_BOX = Scenario("exit_reenter_box", "exit_reenter", "box")
CROSSING_BOX = Scenario("crossing_box", "crossing", "box")
CROSSING_CLICK = Scenario("crossing_click", "crossing", "click")
SCENARIOS = (EXIT_REENTER_BOX, CROSSING_BOX, CROSSING_CLICK)
# With random weights every object score is about 8, far from SAM2Long's uncertainty of 2, so
# its pathways stay copies of one another; at uncertainty 10 every frame is uncertain, the
# pathways keep distinct candidates, and an IoU gate of 0.52 lies between the candidates'
# predicted IoUs (about 0.51 and 0.54), so some of each lineage's frames are not memory. The
# best pathway still keeps the best mask on every frame, so the others are recorded too.
DIVERSE = (("uncertainty", 10.0), ("iou_thre", 0.52))
CROSSING_BOX_DIVERSE = Scenario("crossing_box_diverse", "crossing", "box", DIVERSE, pathway_log=True)
EXIT_REENTER_BOX_DIVERSE = Scenario("exit_reenter_box_diverse", "exit_reenter", "box", DIVERSE, pathway_log=True)

TRACKERS = {
    "samurai": TrackerOracle("samurai", "configs/samurai/sam2.1_hiera_t.yaml", reference_env.SAMURAI_COMMIT,
                             SCENARIOS),
    # DAM4SAM through its frame-by-frame tracker, which starts from a box.
    "dam4sam": TrackerOracle("dam4sam", "sam21pp_hiera_t.yaml", reference_env.DAM4SAM_COMMIT,
                             (EXIT_REENTER_BOX, CROSSING_BOX), ours_impl="ours-dam4sam"),
    # SAM2Long with its documented settings (3 pathways, IoU gate 0.1, uncertainty 2).
    "sam2long": TrackerOracle("sam2long", OUR_CONFIG, reference_env.SAM2LONG_COMMIT,
                              (CROSSING_BOX, CROSSING_CLICK, CROSSING_BOX_DIVERSE, EXIT_REENTER_BOX_DIVERSE)),
}



def golden_file(tracker: str) -> Path:
    return GOLDEN_DIR / f"{tracker}.npz"



def make_clips(folder: Path) -> dict:
    """clip name -> folder of its frames."""
    return {clip: make_clip(clip, folder / clip, SHARED_DATA, NUM_FRAMES) for clip in {s.clip for s in SCENARIOS}}


def run_tracker(env: dict, impl: str, config: str, checkpoint: Path, frames: Path, scenario: Scenario, out: Path,
                tracker: str = "sam2") -> dict:
    """One ``run_tracker.py`` run; its recording as arrays."""
    cmd = [sys.executable, str(REPO / "oracle" / "run_tracker.py"), "--impl", impl, "--config", config,
           "--checkpoint", str(checkpoint), "--frames", str(frames), "--image-size", str(IMAGE_SIZE),
           "--tracker", tracker, "--out", str(out), *scenario.prompt_args()]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-30:])
        raise RuntimeError(f"run_tracker.py --impl {impl} {scenario.name} exited {proc.returncode}:\n{tail}")
    with np.load(out) as recording:
        return dict(recording)


def record_vot_boxes(env: dict, workdir: Path) -> dict:
    """What vot-toolkit and DAM4SAM's largest-part code give on ``vot_boxes.masks()``."""
    out = workdir / "vot_boxes.npz"
    proc = subprocess.run([sys.executable, str(REPO / "oracle" / "vot_boxes.py"), "--out", str(out)], env=env,
                          cwd=workdir, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"vot_boxes.py exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    with np.load(out) as recording:
        return {f"vot/{key}": recording[key] for key in recording.files}


def sam21_tiny_manifest() -> dict:
    """The state-dict manifest of SAM 2.1 tiny, from our own model (same keys as the official)."""
    from sam2.build_sam import build_sam2

    return manifest_of(build_sam2(OUR_CONFIG, device="cpu").state_dict())


def record(trackers, workdir: Path) -> None:
    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    clips = make_clips(workdir)
    manifest = sam21_tiny_manifest()
    weights = informative_weights(manifest, SEED)
    checkpoint = workdir / "weights.pt"
    torch.save({"model": weights}, checkpoint)
    for name in trackers:
        tracker = TRACKERS[name]
        oracle = reference_env.find_or_install(name)
        if oracle is None:
            raise SystemExit(f"{name} oracle unavailable: {reference_env.last_failure_reason}")
        arrays = {
            "meta_config": np.array(tracker.config),
            "meta_image_size": np.array(IMAGE_SIZE),
            "meta_seed": np.array(SEED),
            "meta_official_commit": np.array(tracker.commit),
            "meta_manifest": np.array(json.dumps(manifest)),
            "meta_weights_digest": np.array(digest(weights)),
            "meta_recorded_with_torch": np.array(torch.__version__),
            "meta_scenarios": np.array(json.dumps([s.name for s in tracker.scenarios])),
            "meta_scenario_settings": np.array(json.dumps({s.name: dict(s.sam2long) for s in tracker.scenarios})),
        }
        for clip, folder in clips.items():
            arrays[f"{clip}/pixels_sha256"] = np.array(pixels_digest(folder))
        if name == "dam4sam":
            arrays.update(record_vot_boxes(oracle.subprocess_env(), workdir))
        for scenario in tracker.scenarios:
            recording = run_tracker(oracle.subprocess_env(), tracker.official_impl, tracker.config, checkpoint,
                                    clips[scenario.clip], scenario, workdir / f"{name}-{scenario.name}.npz")
            masks = recording["logits"].astype(np.float32) > 0
            arrays[f"{scenario.name}/frames"] = recording["frames"]
            arrays[f"{scenario.name}/shape"] = np.array(masks.shape)
            arrays[f"{scenario.name}/mask_bits"] = np.packbits(masks)
            if scenario.pathway_log:
                arrays[f"{scenario.name}/pathway_frames"] = recording["pathway_frames"]
                arrays[f"{scenario.name}/pathway_shape"] = np.array(recording["pathway_masks"].shape)
                arrays[f"{scenario.name}/pathway_mask_bits"] = np.packbits(recording["pathway_masks"])
                arrays[f"{scenario.name}/pathway_ious"] = recording["pathway_ious"]
                arrays[f"{scenario.name}/pathway_scores"] = recording["pathway_scores"]
            print(f"{name} {scenario.name}: {len(masks)} frames, mask fraction {masks.mean():.3f}", file=sys.stderr)
        np.savez_compressed(golden_file(name), **arrays)
        print(f"wrote {golden_file(name)} ({golden_file(name).stat().st_size // 1024} KiB)", file=sys.stderr)


def golden_masks(golden: dict, scenario: str) -> np.ndarray:
    """(frames, H, W) bool masks of a scenario in a golden file."""
    shape = tuple(int(v) for v in golden[f"{scenario}/shape"])
    return np.unpackbits(golden[f"{scenario}/mask_bits"])[: int(np.prod(shape))].reshape(shape).astype(bool)


def main(argv: list[str] | None = None) -> int:
    return golden.recorder_main(record, TRACKERS, "trackers", __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    sys.exit(main())
