"""Strict loading of an official ``{"model": state_dict}`` checkpoint, with a readable mismatch."""

import logging
import os
from typing import Callable, Dict, FrozenSet, List, Optional, Tuple

import torch
from torch import nn

logger = logging.getLogger(__name__)

# Parameter names and shapes: what a checkpoint must share with the model it loads into.
Layout = FrozenSet[Tuple[str, Tuple[int, ...]]]


class CheckpointMismatchError(RuntimeError):
    """The checkpoint's parameter names or shapes do not match the model."""


def layout_of(state: Dict[str, torch.Tensor]) -> Layout:
    return frozenset((key, tuple(tensor.shape)) for key, tensor in state.items())


def read_state(ckpt_path: str) -> Dict[str, torch.Tensor]:
    """The ``model`` state dict of an official checkpoint file; clear errors for anything else."""
    if not os.path.isfile(ckpt_path):
        raise FileNotFoundError(f"checkpoint not found: {ckpt_path}")
    try:
        payload = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ValueError(f"cannot read checkpoint {ckpt_path}: {error}") from error
    state = payload.get("model") if isinstance(payload, dict) else None
    if not isinstance(state, dict):
        raise ValueError(f"checkpoint {ckpt_path} has no 'model' state dict")
    return state


def _listing(title: str, keys: List[str]) -> str:
    shown = ", ".join(keys[:20]) + (f", ... ({len(keys)} in all)" if len(keys) > 20 else "")
    return f"\n  {title} ({len(keys)}): {shown}" if keys else ""


def load_checkpoint(
    model: nn.Module, ckpt_path: str, config: str = "the model's config",
    configs_fitting: Optional[Callable[[Layout], List[str]]] = None,
) -> None:
    """Load ``{"model": state_dict}`` strictly; on a mismatch raise with the missing, unexpected
    and misshapen keys, naming the checkpoint and ``config``, and the known configs the
    weights do fit (``configs_fitting``)."""
    state = read_state(ckpt_path)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong_shape = sorted(
        f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in set(state) & set(expected)
        if tuple(state[k].shape) != tuple(expected[k].shape)
    )
    if missing or unexpected or wrong_shape:
        fitting = configs_fitting(layout_of(state)) if configs_fitting is not None else []
        hint = f"; these weights fit {', '.join(fitting)}" if fitting else ""
        raise CheckpointMismatchError(
            f"checkpoint {ckpt_path} does not match {config} (wrong config for these weights?){hint}"
            + _listing("missing keys", missing)
            + _listing("unexpected keys", unexpected)
            + _listing("shape mismatches", wrong_shape)
        )
    model.load_state_dict(state, strict=True)
    logger.info("loaded checkpoint %s", ckpt_path)
