"""The official models on the Hugging Face hub: their config names and checkpoint files."""

from typing import Dict, Tuple

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


def hub_files(model_id: str) -> Tuple[str, str]:
    """(config name, local checkpoint path) of a hub model, downloaded by ``huggingface_hub``
    into its cache (or found there)."""
    if model_id not in HF_MODEL_ID_TO_FILENAMES:
        raise ValueError(f"unknown model id {model_id!r}; known: {', '.join(HF_MODEL_ID_TO_FILENAMES)}")
    import huggingface_hub  # optional: only the hub builders need it

    config_file, filename = HF_MODEL_ID_TO_FILENAMES[model_id]
    return config_file, huggingface_hub.hf_hub_download(repo_id=model_id, filename=filename)
