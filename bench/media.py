"""Benchmark inputs: long videos made from the clips in ../shared/data and random checkpoints."""

import os
from pathlib import Path
from typing import Iterator

import cv2
import imageio_ffmpeg
import numpy as np

from oracle import paths
from oracle.paths import SHARED_DATA

CACHE = paths.CACHE / "bench"
HD_CLIPS = ("dog.mp4", "cups.mp4", "blocks.mp4", "coffee.mp4", "juggle.mp4")


def _clip_frames(path: Path, size) -> Iterator[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                return
            if (frame.shape[1], frame.shape[0]) != size:
                frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
            yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    finally:
        capture.release()


def long_video(num_frames: int, width: int = 1280, height: int = 720, fps: float = 30.0) -> Path:
    """An H.264 mp4 of ``num_frames`` frames made by concatenating the shared 720p clips
    (played forwards, then backwards, so the cut is smooth); cached under .cache/bench."""
    missing = [name for name in HD_CLIPS if not (SHARED_DATA / name).exists()]
    if missing:
        raise FileNotFoundError(f"benchmark clips not found in {SHARED_DATA}: {', '.join(missing)}")
    target = CACHE / f"long_{num_frames}f_{width}x{height}.mp4"
    if target.exists():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part.mp4")
    writer = imageio_ffmpeg.write_frames(
        str(partial), (width, height), fps=fps, codec="libx264", quality=6, macro_block_size=1,
        output_params=["-g", "60"],
    )
    writer.send(None)
    written = 0
    while written < num_frames:
        for name in HD_CLIPS:
            frames = list(_clip_frames(SHARED_DATA / name, (width, height)))
            for frame in frames + frames[::-1]:
                if written == num_frames:
                    break
                writer.send(np.ascontiguousarray(frame))
                written += 1
    writer.close()
    os.replace(partial, target)
    return target


def official_config(name: str) -> str:
    """The config path the model's official package accepts (ours accepts it too):
    sam2.1_hiera_t -> configs/sam2.1/sam2.1_hiera_t.yaml, edgetam -> configs/edgetam.yaml,
    efficienttam_s -> configs/efficienttam/efficienttam_s.yaml."""
    from sam2.assembly.configs import PRESETS, config_name

    if name.endswith(".yaml"):
        return name
    preset = config_name(name)
    family = PRESETS[preset].family
    if family == "EdgeTAM":
        return f"configs/{preset}.yaml"
    if family == "EfficientTAM":
        return f"configs/efficienttam/{preset}.yaml"
    return f"configs/{'sam2.1' if preset.startswith('sam2.1') else 'sam2'}/{preset}.yaml"


def official_implementation(name: str) -> str:
    """The oracle implementation (``oracle.implementations``) that runs the model's official code."""
    from sam2.assembly.configs import PRESETS, config_name

    return {"EdgeTAM": "edgetam", "EfficientTAM": "efficienttam"}.get(PRESETS[config_name(name)].family, "reference")


def random_checkpoint(config_file: str) -> Path:
    """Seeded random weights of ``config_file`` in the official format (cached)."""
    from sam2.assembly.random_weights import save_random_checkpoint

    target = CACHE / f"random_{config_file}.pt"
    if not target.exists():
        save_random_checkpoint(config_file, str(target))
    return target
