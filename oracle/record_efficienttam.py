"""Record EfficientTAM's official outputs once, as small golden files CI checks ours against.

    python -m oracle.record_efficienttam [--configs efficienttam_s ...]

CI cannot fetch EfficientTAM's code (its repository is not on PyPI in this form), so this is
run by hand where a git mirror of it is (``EFFICIENTTAM_GIT_DIR``; see reference_env.py):

1. the official package is extracted from the mirror at the pinned commit into
   ``.cache/oracles/efficienttam`` (never into the repository tree);
2. input frames are cut from the ``../shared/data`` clips the other parity tests use (which
   CI has too; nothing of them is kept in the repository): each golden file notes the hash
   of the decoded pixels it saw, so inputs that come out otherwise (another video decoder or
   JPEG codec) are named as the cause;
3. per config, the official model's state-dict manifest is read and weights generated from
   it alone (``manifest_weights.py``, plus the informative tweaks), so CI regenerates them
   without the official code; the manifest and the weights' digest go into the golden file;
4. the scenarios are played through the official API (``build_efficienttam_video_predictor``,
   ``build_efficienttam``, ``EfficientTAMImagePredictor``) and shrunk (``golden.py``).

One golden file per config, ``tests/golden/efficienttam/<config>.npz``; the scenarios are
prefixes in it (``video_full/step000_label``, ...) next to ``meta_*`` entries.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from oracle import golden, reference_env
from oracle.frames import extract_frames, pixels_digest, prepare_stills
from oracle.manifest_weights import digest
from oracle.paths import REPO, SHARED_DATA

GOLDEN_DIR = REPO / "tests" / "golden" / "efficienttam"
# The scenarios each config is recorded (and tested) on. video_full plays the predictor's
# session logic (corrections, removal, reset), the same for every config: efficienttam_s
# plays it. The others differ from efficienttam_s in the model only: the tiny encoder at its
# native 512 px (video_reverse, image), or pooled memory attention (_1, _2: video_reverse,
# whose memory grows past the query tokens, where pooling starts; their image outputs would
# repeat efficienttam_s's, whose weights they share).
CONFIG_SCENARIOS = {
    "efficienttam_s": ("video_full", "video_reverse", "image"),
    "efficienttam_ti_512x512": ("video_reverse", "image"),
    "efficienttam_s_1": ("video_reverse",),
    "efficienttam_s_2": ("video_reverse",),
}
CONFIGS = tuple(CONFIG_SCENARIOS)
IMAGE_SIZE = 512
SEED = 0
FRAME_WIDTH = 240  # masks are stored at video resolution: small frames keep the files small
JPEG_QUALITY = 80


@dataclass(frozen=True)
class InputSet:
    """Frames a scenario reads: ``frames`` of a clip every ``stride`` frames, or stills."""

    name: str
    clip: str | None = None
    frames: int = 0
    stride: int = 3
    stills: tuple = ()

    def make(self, folder: Path) -> Path:
        if self.clip:
            return extract_frames(SHARED_DATA / self.clip, folder, self.frames, self.stride, FRAME_WIDTH,
                                  quality=JPEG_QUALITY)
        return prepare_stills([SHARED_DATA / name for name in self.stills], folder, FRAME_WIDTH, JPEG_QUALITY)


# 8 frames: the last frames tracked use all 7 memory slots (a conditioning frame, 6 others).
SCENARIO_INPUTS = {
    "video_full": InputSet("dog", clip="dog.mp4", frames=8),
    "video_reverse": InputSet("bedroom", clip="bedroom.mp4", frames=8),
    "image": InputSet("stills", stills=("truck.jpg", "groceries.jpg")),
}


def config_file(config: str) -> str:
    return f"configs/efficienttam/{config}.yaml"


def golden_file(config: str) -> Path:
    return GOLDEN_DIR / f"{config}.npz"



def make_inputs(scenario: str, folder: Path, recorded_digest: str) -> Path:
    """Cut the frames of ``scenario`` into ``folder``; fail unless they decode to the pixels a
    golden recording saw (``recorded_digest``)."""
    made = SCENARIO_INPUTS[scenario].make(folder)
    decoded = pixels_digest(made)
    if decoded != recorded_digest:
        raise ValueError(
            f"the frames of {scenario} decode to other pixels ({decoded[:12]}) than the recording saw "
            f"({recorded_digest[:12]}): the clip, the video decoder or the JPEG codec changed; "
            "re-record with python -m oracle.record_efficienttam"
        )
    return made


def _run(cmd: list, env: dict, cwd: Path) -> float:
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-30:])
        raise RuntimeError(f"{' '.join(cmd[:4])} ... exited {proc.returncode}:\n{tail}")
    return time.perf_counter() - started


def _mask_summary(recording) -> str:
    fractions = [float((recording[k] > 0).mean()) for k in recording if k.endswith(("_logits", "_masks"))]
    return (f"{len(fractions)} mask outputs, positive fraction min {min(fractions):.3f} "
            f"median {np.median(fractions):.3f} max {max(fractions):.3f}")


def record(configs, workdir: Path) -> None:
    oracle = reference_env.find_or_install(reference_env.EFFICIENTTAM)
    if oracle is None:
        raise SystemExit(f"EfficientTAM oracle unavailable: {reference_env.last_failure_reason}")
    env = oracle.subprocess_env()
    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)

    folders = {scenario: input_set.make(workdir / input_set.name) for scenario, input_set in SCENARIO_INPUTS.items()}

    script = REPO / "oracle"
    for config in configs:
        manifest_path, checkpoint = workdir / f"{config}.json", workdir / f"{config}.pt"
        _run([sys.executable, str(script / "make_checkpoint.py"), "--impl", "efficienttam",
              "--config", config_file(config), "--out", str(checkpoint), "--seed", str(SEED),
              "--manifest-out", str(manifest_path)], env, workdir)
        manifest = json.loads(manifest_path.read_text())
        arrays = {
            "meta_config": np.array(config_file(config)),
            "meta_image_size": np.array(IMAGE_SIZE),
            "meta_seed": np.array(SEED),
            "meta_official_commit": np.array(reference_env.EFFICIENTTAM_COMMIT),
            "meta_manifest": np.array(json.dumps(manifest)),
            "meta_weights_digest": np.array(digest(torch.load(checkpoint)["model"])),
            "meta_recorded_with_torch": np.array(torch.__version__),
        }
        for scenario in CONFIG_SCENARIOS[config]:
            input_set = SCENARIO_INPUTS[scenario]
            out = workdir / f"{config}-{scenario}.npz"
            seconds = _run([sys.executable, str(script / "run_scenario.py"), "--impl", "efficienttam",
                            "--config", config_file(config), "--checkpoint", str(checkpoint),
                            "--scenario", scenario, "--frames", str(folders[scenario]), "--out", str(out),
                            "--image-size", str(IMAGE_SIZE)], env, workdir)
            with np.load(out) as recording:
                if int(recording["meta_model_image_size"]) != IMAGE_SIZE:
                    raise RuntimeError(f"{config} ran at {recording['meta_model_image_size']} px")
                arrays.update(golden.shrink(recording, f"{scenario}/"))
                arrays[f"{scenario}/meta_inputs"] = np.array(input_set.name)
                arrays[f"{scenario}/meta_inputs_sha256"] = np.array(pixels_digest(folders[scenario]))
                print(f"{config} {scenario}: {seconds:.0f}s, {_mask_summary(recording)}", file=sys.stderr)
        arrays["meta_scenarios"] = np.array(json.dumps(CONFIG_SCENARIOS[config]))
        np.savez_compressed(golden_file(config), **arrays)
        print(f"wrote {golden_file(config)} ({golden_file(config).stat().st_size // 1024} KiB)", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    return golden.recorder_main(record, CONFIGS, "configs", __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    sys.exit(main())
