"""App settings from environment variables and command-line flags (flags win)."""

import argparse
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Optional, Sequence

import torch

from sam2.models import checked_image_size
from sam2.text_boxes import DEFAULT_DETECTOR

REPO = Path(__file__).resolve().parents[1]
# The model a server starts with when SAM2_MODEL does not say (hub ids, see tracker.model.catalogue):
# on a CPU (or MPS) the one that tracks fastest there, on a CUDA GPU a larger one.
CPU_DEFAULT_MODEL = "facebook/EdgeTAM"
GPU_DEFAULT_MODEL = "facebook/sam2.1-hiera-base-plus"


def _limit(default: int, help_text: str):
    return field(default=default, metadata={"help": help_text})


@dataclass(frozen=True)
class Limits:
    """What the shared server allows one user. Each limit is the environment variable
    ``SAM2_<NAME>`` or the flag ``--<name>`` (e.g. SAM2_MAX_FRAMES / --max-frames)."""

    max_upload_mb: int = _limit(200, "larger uploads are refused")
    max_frames: int = _limit(900, "frames tracked at once: longer videos open whole and the user picks a window of them")
    max_side: int = _limit(1920, "larger videos are scaled down to this many pixels on the long side, with a notice")
    max_objects: int = _limit(8, "objects per session")
    max_points: int = _limit(16, "clicks per object on one frame")
    max_jobs: int = _limit(1, "model-running events (open, click, track, export) served at once, over all users")
    queue_size: int = _limit(20, "events waiting in the queue (all users); when full, new ones are refused as 'busy'")
    session_ttl: int = _limit(3600, "seconds a session may stay idle before it is closed and its files deleted")

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 2**20


def best_device() -> str:
    """CUDA when there is a GPU, then Apple's MPS, else the CPU."""
    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def local_model_id(checkpoint: str, config: str) -> str:
    """The id (and label) of a local checkpoint, e.g. "weights.pt (sam2.1_hiera_t)"."""
    return f"{Path(checkpoint).name} ({config})"


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _image_size(text: str) -> int:
    try:
        return checked_image_size(int(text))
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


@dataclass(frozen=True)
class AppSettings:
    """Where the weights come from, where the app listens, and its limits.

    Environment: SAM2_MODEL (hub id, see tracker.model.catalogue; default CPU_DEFAULT_MODEL, on CUDA
    GPU_DEFAULT_MODEL), SAM2_CHECKPOINT + SAM2_CONFIG (a local file instead), SAM2_DEVICE,
    SAM2_CHECKPOINTS_DIR, SAM2_HOST or GRADIO_SERVER_NAME (default 127.0.0.1: local only),
    SAM2_PORT, GRADIO_SERVER_PORT or PORT (default 7860), SAM2_IMAGE_SIZE (the sessions' default
    model input size; see tracker.model.engine.default_image_size), SAM2_TEXT_DETECTOR ("Find by
    text": a transformers zero-shot object detector's hub id or folder), and the limits of :class:`Limits`:
    SAM2_MAX_UPLOAD_MB, SAM2_MAX_FRAMES, SAM2_MAX_SIDE, SAM2_MAX_OBJECTS, SAM2_MAX_POINTS,
    SAM2_MAX_JOBS, SAM2_QUEUE_SIZE, SAM2_SESSION_TTL.
    """

    model_id: str
    checkpoint: Optional[str]
    config: Optional[str]
    device: str
    checkpoints_dir: Path
    host: str
    port: int
    limits: Limits
    image_size: Optional[int] = None
    # Seeded random weights instead of the model's own (to try the app without any download).
    random_weights: bool = False
    # The open-vocabulary detector of "Find by text" (a hub id or a saved folder).
    text_detector: str = DEFAULT_DETECTOR

    @classmethod
    def argument_parser(cls, environ=None) -> argparse.ArgumentParser:
        """The app's flags, each defaulting to its environment variable in ``environ``."""
        env = os.environ if environ is None else environ
        device = env.get("SAM2_DEVICE") or best_device()
        parser = argparse.ArgumentParser(description="SAM 2 video tracking demo")
        parser.add_argument("--model", default=env.get("SAM2_MODEL"),
                            help=f"hub id, e.g. facebook/EdgeTAM or facebook/sam2.1-hiera-tiny (SAM2_MODEL; default "
                                 f"{CPU_DEFAULT_MODEL} on CPUs, {GPU_DEFAULT_MODEL} on CUDA GPUs)")
        parser.add_argument("--checkpoint", default=env.get("SAM2_CHECKPOINT"), help="local .pt checkpoint")
        parser.add_argument("--config", default=env.get("SAM2_CONFIG"), help="config of --checkpoint, e.g. sam2.1_hiera_t")
        parser.add_argument("--device", default=device,
                            help="cuda, mps or cpu (SAM2_DEVICE; default: the first of them available)")
        parser.add_argument("--checkpoints-dir", default=env.get("SAM2_CHECKPOINTS_DIR", str(REPO / "checkpoints")))
        host = env.get("SAM2_HOST") or env.get("GRADIO_SERVER_NAME") or "127.0.0.1"
        port = env.get("SAM2_PORT") or env.get("GRADIO_SERVER_PORT") or env.get("PORT") or "7860"
        parser.add_argument("--host", default=host, help="0.0.0.0 to listen on all interfaces")
        parser.add_argument("--port", type=int, default=int(port))
        parser.add_argument("--image-size", type=_image_size, default=env.get("SAM2_IMAGE_SIZE") or None,
                            help="the sessions' default model input size, a multiple of 32 (SAM2_IMAGE_SIZE; default "
                                 "the model's own on GPUs and bf16 CPUs, else 512); 512 tracks about 4x "
                                 "faster than 1024 on a CPU, with coarser masks")
        parser.add_argument("--random-weights", action="store_true", default=env.get("SAM2_RANDOM_WEIGHTS") == "1",
                            help="try the app without weights: seeded random weights of the model's config, "
                                 "nothing downloaded; every feature works, the masks mean nothing "
                                 "(SAM2_RANDOM_WEIGHTS=1)")
        parser.add_argument("--text-detector", default=env.get("SAM2_TEXT_DETECTOR") or DEFAULT_DETECTOR,
                            help="the detector of 'Find by text': a transformers zero-shot object detector's hub id "
                                 f"or folder (SAM2_TEXT_DETECTOR; default {DEFAULT_DETECTOR}, downloaded on first use)")
        for spec in fields(Limits):
            variable = f"SAM2_{spec.name.upper()}"
            # A string default goes through type=, so a bad environment value is a clean usage error.
            parser.add_argument("--" + spec.name.replace("_", "-"), type=_positive_int,
                                default=env.get(variable, str(spec.default)),
                                help=f"{spec.metadata['help']} ({variable}, default {spec.default})")
        return parser

    @classmethod
    def from_sources(cls, argv: Optional[Sequence[str]] = None, environ=None) -> "AppSettings":
        parser = cls.argument_parser(environ)
        args = parser.parse_args(argv)
        if bool(args.checkpoint) != bool(args.config):
            parser.error("SAM2_CHECKPOINT/--checkpoint and SAM2_CONFIG/--config go together")
        if args.model:
            model_id = args.model
        elif args.checkpoint:
            model_id = local_model_id(args.checkpoint, args.config)
        else:
            model_id = GPU_DEFAULT_MODEL if args.device.startswith("cuda") else CPU_DEFAULT_MODEL
        limits = Limits(**{spec.name: getattr(args, spec.name) for spec in fields(Limits)})
        return cls(model_id, args.checkpoint, args.config, args.device, Path(args.checkpoints_dir), args.host,
                   args.port, limits, args.image_size, args.random_weights, args.text_detector)
