"""Strict loading of an official ``{"model": state_dict}`` checkpoint, with a readable mismatch."""

import logging
import os

import torch
from torch import nn

logger = logging.getLogger(__name__)


class CheckpointMismatchError(RuntimeError):
    """The checkpoint's parameter names or shapes do not match the model."""


def load_checkpoint(model: nn.Module, ckpt_path: str) -> None:
    """Load ``{"model": state_dict}`` strictly; raise with the missing/unexpected keys."""
    if not os.path.isfile(ckpt_path):
        raise FileNotFoundError(f"checkpoint not found: {ckpt_path}")
    try:
        payload = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ValueError(f"cannot read checkpoint {ckpt_path}: {error}") from error
    state = payload.get("model") if isinstance(payload, dict) else None
    if not isinstance(state, dict):
        raise ValueError(f"checkpoint {ckpt_path} has no 'model' state dict")
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong_shape = sorted(
        f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in set(state) & set(expected)
        if tuple(state[k].shape) != tuple(expected[k].shape)
    )
    if missing or unexpected or wrong_shape:
        def listing(title, keys):
            shown = ", ".join(keys[:20]) + (f", ... ({len(keys)} in all)" if len(keys) > 20 else "")
            return f"\n  {title} ({len(keys)}): {shown}" if keys else ""

        raise CheckpointMismatchError(
            f"checkpoint {ckpt_path} does not match the model config (wrong config for these weights?)"
            + listing("missing keys", missing)
            + listing("unexpected keys", unexpected)
            + listing("shape mismatches", wrong_shape)
        )
    model.load_state_dict(state, strict=True)
    logger.info("loaded checkpoint %s", ckpt_path)
