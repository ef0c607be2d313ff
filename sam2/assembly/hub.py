"""Models on the Hugging Face Hub: their config names and where their checkpoints are."""

import os
from dataclasses import dataclass
from typing import Dict, Tuple

# The official package's table: model id -> (config name, checkpoint file in that model repo).
HF_MODEL_ID_TO_FILENAMES: Dict[str, Tuple[str, str]] = {
    "facebook/sam2-hiera-tiny": ("configs/sam2/sam2_hiera_t.yaml", "sam2_hiera_tiny.pt"),
    "facebook/sam2-hiera-small": ("configs/sam2/sam2_hiera_s.yaml", "sam2_hiera_small.pt"),
    "facebook/sam2-hiera-base-plus": ("configs/sam2/sam2_hiera_b+.yaml", "sam2_hiera_base_plus.pt"),
    "facebook/sam2-hiera-large": ("configs/sam2/sam2_hiera_l.yaml", "sam2_hiera_large.pt"),
    "facebook/sam2.1-hiera-tiny": ("configs/sam2.1/sam2.1_hiera_t.yaml", "sam2.1_hiera_tiny.pt"),
    "facebook/sam2.1-hiera-small": ("configs/sam2.1/sam2.1_hiera_s.yaml", "sam2.1_hiera_small.pt"),
    "facebook/sam2.1-hiera-base-plus": ("configs/sam2.1/sam2.1_hiera_b+.yaml", "sam2.1_hiera_base_plus.pt"),
    "facebook/sam2.1-hiera-large": ("configs/sam2.1/sam2.1_hiera_l.yaml", "sam2.1_hiera_large.pt"),
}


@dataclass(frozen=True)
class HubCheckpoint:
    """A model's official config name and its checkpoint on the Hub: ``filename`` in the
    repository ``repo_id`` of type ``repo_type`` ("model" or "space")."""

    config: str
    repo_id: str
    filename: str
    repo_type: str = "model"

    @property
    def local_name(self) -> str:
        """The checkpoint's file name, as it is looked for in a local checkpoints folder."""
        return os.path.basename(self.filename)


# EfficientTAM's official ids (its package's table) live in one model repository of its authors.
_EFFICIENTTAM_REPO = "yunyangx/efficient-track-anything"
_EFFICIENTTAM_NAMES = [
    f"efficienttam_{size}{variant}" for size in ("s", "ti") for variant in ("", "_512x512", "_1", "_2")
]

HUB_CHECKPOINTS: Dict[str, HubCheckpoint] = {
    model_id: HubCheckpoint(config, model_id, filename) for model_id, (config, filename) in HF_MODEL_ID_TO_FILENAMES.items()
}
# EdgeTAM's weights are published with its demo Space (and in its GitHub repository).
HUB_CHECKPOINTS["facebook/EdgeTAM"] = HubCheckpoint("configs/edgetam.yaml", "facebook/EdgeTAM", "checkpoints/edgetam.pt", "space")
for _name in _EFFICIENTTAM_NAMES:
    HUB_CHECKPOINTS[f"facebook/{_name}"] = HubCheckpoint(f"configs/efficienttam/{_name}.yaml", _EFFICIENTTAM_REPO, f"{_name}.pt")


def hub_checkpoint(model_id: str) -> HubCheckpoint:
    """Where ``model_id``'s checkpoint is; ValueError naming the known ids if it is unknown."""
    if model_id not in HUB_CHECKPOINTS:
        raise ValueError(f"unknown model id {model_id!r}; known: {', '.join(HUB_CHECKPOINTS)}")
    return HUB_CHECKPOINTS[model_id]


def download(checkpoint: HubCheckpoint) -> str:
    """The local path of ``checkpoint``, downloaded by ``huggingface_hub`` into its cache (or
    found there)."""
    import huggingface_hub  # optional: only the hub builders need it

    return huggingface_hub.hf_hub_download(
        repo_id=checkpoint.repo_id, filename=checkpoint.filename, repo_type=checkpoint.repo_type
    )


def hub_files(model_id: str) -> Tuple[str, str]:
    """(config name, local checkpoint path) of a hub model."""
    checkpoint = hub_checkpoint(model_id)
    return checkpoint.config, download(checkpoint)
