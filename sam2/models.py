"""The models this package builds, for applications (not part of the official API).

- configs: :class:`ModelConfig` presets by name (:func:`get_config`; official config paths and
  short names both work, :func:`config_name` normalizes them), the input sizes a model runs at
  (multiples of :func:`image_size_step`, checked by :func:`checked_image_size`);
- checkpoints on the Hugging Face Hub: :func:`hub_checkpoint` (where a hub id's file is, as a
  :class:`HubCheckpoint`) and :func:`download_checkpoint` (its local path, from the Hub cache);
- :class:`CheckpointMismatchError`, raised by the builders when a checkpoint does not fit its
  config (its first line names the file, the config and the configs it does fit);
- :func:`save_random_checkpoint`: seeded random weights of a config in the official checkpoint
  format, to try or test everything without downloading (the masks mean nothing).

The builders themselves, and ``checkpoint_config`` / ``at_image_size``, are in
:mod:`sam2.build_sam`.
"""

from .assembly.checkpoint import CheckpointMismatchError
from .assembly.configs import ModelConfig, checked_image_size, config_name, get_config, image_size_step
from .assembly.hub import HubCheckpoint, hub_checkpoint
from .assembly.hub import download as download_checkpoint
from .assembly.random_weights import save_random_checkpoint

__all__ = [
    "CheckpointMismatchError", "HubCheckpoint", "ModelConfig", "checked_image_size", "config_name",
    "download_checkpoint", "get_config", "hub_checkpoint", "image_size_step", "save_random_checkpoint",
]
