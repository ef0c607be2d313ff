"""App settings from environment variables and command-line flags (flags win)."""

import argparse
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import torch

REPO = Path(__file__).resolve().parents[1]
CPU_DEFAULT_MODEL = "facebook/sam2.1-hiera-tiny"
GPU_DEFAULT_MODEL = "facebook/sam2.1-hiera-base-plus"


@dataclass(frozen=True)
class AppSettings:
    """Where the weights come from, where the app listens, and its limits.

    Environment: SAM2_MODEL (hub id), SAM2_CHECKPOINT + SAM2_CONFIG (local file), SAM2_DEVICE,
    SAM2_CHECKPOINTS_DIR, SAM2_HOST or GRADIO_SERVER_NAME (default 127.0.0.1: local only),
    SAM2_PORT, GRADIO_SERVER_PORT or PORT (default 7860), SAM2_MAX_OBJECTS (default 8).
    """

    model_id: str
    checkpoint: Optional[str]
    config: Optional[str]
    device: str
    checkpoints_dir: Path
    host: str
    port: int
    max_objects: int

    @classmethod
    def from_sources(cls, argv: Optional[Sequence[str]] = None, environ=None) -> "AppSettings":
        env = os.environ if environ is None else environ
        device = env.get("SAM2_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu")
        parser = argparse.ArgumentParser(description="SAM 2 video tracking demo")
        parser.add_argument("--model", default=env.get("SAM2_MODEL"), help="hub id, e.g. facebook/sam2.1-hiera-tiny")
        parser.add_argument("--checkpoint", default=env.get("SAM2_CHECKPOINT"), help="local .pt checkpoint")
        parser.add_argument("--config", default=env.get("SAM2_CONFIG"), help="config of --checkpoint, e.g. sam2.1_hiera_t")
        parser.add_argument("--device", default=device)
        parser.add_argument("--checkpoints-dir", default=env.get("SAM2_CHECKPOINTS_DIR", str(REPO / "checkpoints")))
        host = env.get("SAM2_HOST") or env.get("GRADIO_SERVER_NAME") or "127.0.0.1"
        port = env.get("SAM2_PORT") or env.get("GRADIO_SERVER_PORT") or env.get("PORT") or "7860"
        parser.add_argument("--host", default=host, help="0.0.0.0 to listen on all interfaces")
        parser.add_argument("--port", type=int, default=int(port))
        parser.add_argument("--max-objects", type=int, default=int(env.get("SAM2_MAX_OBJECTS", "8")))
        args = parser.parse_args(argv)
        if bool(args.checkpoint) != bool(args.config):
            parser.error("SAM2_CHECKPOINT/--checkpoint and SAM2_CONFIG/--config go together")
        model_id = args.model or (GPU_DEFAULT_MODEL if args.device.startswith("cuda") else CPU_DEFAULT_MODEL)
        return cls(model_id, args.checkpoint, args.config, args.device, Path(args.checkpoints_dir), args.host,
                   args.port, args.max_objects)
