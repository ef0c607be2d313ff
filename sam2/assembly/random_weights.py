"""Random weights in the official checkpoint format, for tests, benchmarks and demos without downloads."""

from pathlib import Path

import torch

from .model_builder import build_model
from .configs import get_config


def make_masks_informative(model: torch.nn.Module, seed: int = 0) -> None:
    """Random weights say "no object" and give logits near 0; perturb constant tensors, raise the
    object-score bias and scale the mask hypernetworks so masks have real content."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for tensor in model.state_dict().values():
            if tensor.is_floating_point() and tensor.numel() and bool(tensor.max() == tensor.min()):
                tensor.add_(0.02 * torch.randn(tensor.shape, generator=generator))
        decoder = model.sam_mask_decoder
        decoder.pred_obj_score_head.layers[-1].bias.add_(8.0)
        for mlp in decoder.output_hypernetworks_mlps:
            mlp.layers[-1].weight.mul_(20.0)


def save_random_checkpoint(config_file: str, path: str, seed: int = 0) -> str:
    """Write ``{"model": state_dict}`` of a seeded random model of ``config_file`` to ``path``."""
    torch.manual_seed(seed)
    model = build_model(get_config(config_file))
    make_masks_informative(model, seed)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": model.state_dict()}, path)
    return path
