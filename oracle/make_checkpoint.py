"""Write a random-weights checkpoint, in the official format, that gives informative masks.

Run in a subprocess under either implementation (PYTHONPATH decides which ``sam2`` is used):

    python make_checkpoint.py --config configs/sam2.1/sam2.1_hiera_t.yaml --out w.pt --seed 0

Freshly initialised SAM 2 weights are degenerate for testing: norms are exactly 1/0, the
object-score head votes "no object" about half the time and mask logits hover around zero,
so two implementations could agree while computing different things. This script
perturbs the weights so that every tensor carries information and clicks give masks with
real positive and negative regions. Only ``sam2.build_sam.build_sam2`` is used, the one
entry point both implementations share. The saved file is ``{"model": state_dict}``.
"""

from __future__ import annotations

import argparse
import sys

import torch

# Tuning knobs, chosen by running the reference on real clips at 512 px (sam2.1 tiny):
# * noise for tensors that are constant at init (norm weights/biases, zero embeddings, ...);
# * a lift for the object-score logit, so every prompted object counts as present (~ +8);
# * a gain on the last layer of each mask hypernetwork: mask logits then have a spread of
#   a few units and masks are 50-80 % positive, with real negative regions;
# * gains on the memory cross-attention projections. At init its attention is almost
#   uniform, so tracked masks barely depend on the memory (two objects end up with IoU
#   0.99 against each other, and dropping RoPE changes little). With these gains objects
#   stay apart (IoU ~0.85-0.93), a RoPE/temporal-encoding mistake shows up clearly, and a
#   1e-5 relative perturbation of all weights still moves masks by < 0.002 logits on
#   average. Much larger q/k gains make attention so peaky that fp32 rounding alone
#   flips masks, which would make parity tests flaky.
CONST_NOISE_STD = 0.02
OBJ_SCORE_BIAS_LIFT = 8.0
HYPERNET_OUT_GAIN = 40.0
MEMORY_QK_GAIN = 5.0
MEMORY_VO_GAIN = 3.0

OBJ_SCORE_BIAS_KEYS = (
    "sam_mask_decoder.pred_obj_score_head.layers.2.bias",  # MLP head (pred_obj_scores_mlp)
    "sam_mask_decoder.pred_obj_score_head.bias",  # single linear head
)
HYPERNET_PREFIX = "sam_mask_decoder.output_hypernetworks_mlps."
HYPERNET_SUFFIX = ".layers.2.weight"
MEMORY_CROSS_ATTN = ".cross_attn_image."


def informative_state_dict(model: torch.nn.Module, seed: int) -> dict:
    """Return a perturbed copy of ``model.state_dict()`` (same keys, shapes and dtypes)."""
    gen = torch.Generator().manual_seed(10_000 + seed)
    state = {}
    for name, tensor in model.state_dict().items():
        value = tensor.detach().clone()
        if value.is_floating_point() and value.numel() > 0:
            flat = value.reshape(-1)
            if bool((flat == flat[0]).all()):
                noise = torch.randn(value.shape, generator=gen, dtype=torch.float32)
                value = value + (CONST_NOISE_STD * noise).to(value.dtype)
        state[name] = value

    lifted = [k for k in OBJ_SCORE_BIAS_KEYS if k in state]
    if not lifted:
        raise KeyError("no object-score head bias among " + ", ".join(OBJ_SCORE_BIAS_KEYS))
    for key in lifted:
        state[key] = state[key] + OBJ_SCORE_BIAS_LIFT

    hypernet_keys = [
        k for k in state if k.startswith(HYPERNET_PREFIX) and k.endswith(HYPERNET_SUFFIX)
    ]
    if not hypernet_keys:
        raise KeyError(f"no mask hypernetwork output layers ({HYPERNET_PREFIX}*{HYPERNET_SUFFIX})")
    for key in hypernet_keys:
        state[key] = state[key] * HYPERNET_OUT_GAIN

    for key in state:
        if not (key.startswith("memory_attention.") and MEMORY_CROSS_ATTN in key):
            continue
        if key.endswith(("q_proj.weight", "k_proj.weight")):
            state[key] = state[key] * MEMORY_QK_GAIN
        elif key.endswith(("v_proj.weight", "out_proj.weight")):
            state[key] = state[key] * MEMORY_VO_GAIN
    return state


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="official config name")
    parser.add_argument("--out", required=True, help="where to write the .pt file")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from sam2.build_sam import build_sam2

    torch.manual_seed(args.seed)
    model = build_sam2(args.config, ckpt_path=None, device="cpu")
    state = informative_state_dict(model, args.seed)
    torch.save({"model": state}, args.out)
    print(f"wrote {len(state)} tensors to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
