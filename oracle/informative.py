"""The tweaks that make random weights give informative masks (every test checkpoint gets them).

Freshly initialised SAM 2 weights are degenerate for testing: norms are exactly 1/0, the
object-score head votes "no object" about half the time and mask logits hover around zero,
so two implementations could agree while computing different things. These tweaks make
every tensor carry information and clicks give masks with real positive and negative regions.
"""

from __future__ import annotations

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
# * EdgeTAM (memories compressed by its spatial perceiver, two attention layers) needs half the
#   q/k gain: at 5.0 its own code run on 1 and on 2 threads (float rounding alone) drifts to
#   IoU 0.999 and 1.2e-3 mean logit difference within 5 tracked frames at 1024 px; at 2.5
#   by 1e-4, not growing, with masks as informative.
CONST_NOISE_STD = 0.02
OBJ_SCORE_BIAS_LIFT = 8.0
HYPERNET_OUT_GAIN = 40.0
MEMORY_QK_GAIN = 5.0
PERCEIVER_MEMORY_QK_GAIN = 2.5
MEMORY_VO_GAIN = 3.0
PERCEIVER_KEY = "spatial_perceiver.latents"

OBJ_SCORE_BIAS_KEYS = (
    "sam_mask_decoder.pred_obj_score_head.layers.2.bias",  # MLP head (pred_obj_scores_mlp)
    "sam_mask_decoder.pred_obj_score_head.bias",  # single linear head
)
HYPERNET_PREFIX = "sam_mask_decoder.output_hypernetworks_mlps."
HYPERNET_SUFFIX = ".layers.2.weight"
MEMORY_CROSS_ATTN = ".cross_attn_image."


def informative_state_dict(model: torch.nn.Module, seed: int) -> dict:
    """Return a perturbed copy of ``model.state_dict()`` (same keys, shapes and dtypes)."""
    return make_informative(model.state_dict(), seed)


def make_informative(weights: dict, seed: int) -> dict:
    """Return a perturbed copy of the state dict ``weights`` (same keys, shapes and dtypes)."""
    gen = torch.Generator().manual_seed(10_000 + seed)
    state = {}
    for name, tensor in weights.items():
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

    qk_gain = PERCEIVER_MEMORY_QK_GAIN if PERCEIVER_KEY in state else MEMORY_QK_GAIN
    for key in state:
        if not (key.startswith("memory_attention.") and MEMORY_CROSS_ATTN in key):
            continue
        if key.endswith(("q_proj.weight", "k_proj.weight")):
            state[key] = state[key] * qk_gain
        elif key.endswith(("v_proj.weight", "out_proj.weight")):
            state[key] = state[key] * MEMORY_VO_GAIN
    return state
