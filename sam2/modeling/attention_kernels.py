"""Two kernels for softmax(q k^T / sqrt(d)) v, and the call that picks one.

Tensors are (B, heads, N, d) queries, (B, heads, M, d) keys and (B, heads, M, d_v) values;
the result is (B, heads, N, d_v). An optional (M,) key bias is added to every query's scaled
scores (EfficientTAM's landmark keys). On the CPU, outside autograd and ``torch.compile``, the
kernel is picked by :mod:`sam2.runtime.attention` (a fixed rule, or timing when asked);
elsewhere the fused kernel runs.
"""

from typing import Callable, Dict, Optional

import torch
import torch.nn.functional as F

from ..runtime import attention as attention_runtime
from ..runtime.attention_rule import AttentionShape

Kernel = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, Optional[torch.Tensor]], torch.Tensor]

# Bytes of scores one query chunk of the chunked kernel makes: 128-256 query rows against a
# full memory bank, where the matmuls run near their best (measured: 16 rows took 1.7x as long).
SCORE_CHUNK_BYTES = 16 * 2**20
MIN_CHUNK_ROWS = 16


def fused(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, key_bias: Optional[torch.Tensor] = None) -> torch.Tensor:
    """PyTorch's fused ``scaled_dot_product_attention``."""
    bias = None if key_bias is None else key_bias.to(q.dtype).expand(q.shape[-2], -1)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=bias)


def chunked(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, key_bias: Optional[torch.Tensor] = None
) -> torch.Tensor:
    """Query chunks of plain matmuls in the inputs' dtype; the softmax computes in float32
    (PyTorch's CPU softmax does for bfloat16 input) and writes the inputs' dtype. Each chunk's
    scores stay within ``SCORE_CHUNK_BYTES``."""
    scale = q.shape[-1] ** -0.5
    pairs = q.shape[0] * q.shape[1]
    rows = max(MIN_CHUNK_ROWS, SCORE_CHUNK_BYTES // (q.element_size() * pairs * k.shape[-2]))
    keys_t = k.transpose(-2, -1)
    out = torch.empty(*q.shape[:-1], v.shape[-1], dtype=v.dtype, device=v.device)
    for start in range(0, q.shape[-2], rows):
        scores = torch.matmul(q[..., start : start + rows, :] * scale, keys_t)
        if key_bias is not None:
            scores += key_bias.to(scores.dtype)
        out[..., start : start + rows, :] = torch.matmul(torch.softmax(scores, dim=-1), v)
    return out


KERNELS: Dict[str, Kernel] = {"fused": fused, "chunked": chunked}


def choosable(q: torch.Tensor) -> bool:
    """Whether the kernel is picked (not always fused): CPU tensors, no autograd, not compiling."""
    return (
        q.device.type == "cpu" and not (torch.is_grad_enabled() and q.requires_grad)
        and not torch.compiler.is_compiling()
    )


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, key_bias: Optional[torch.Tensor] = None) -> torch.Tensor:
    """softmax(q k^T / sqrt(d) + key_bias) v by the kernel picked for its shape."""
    if not choosable(q):
        return fused(q, k, v, key_bias)
    ways = {name: (lambda kernel=kernel: kernel(q, k, v, key_bias)) for name, kernel in KERNELS.items()}
    return attention_runtime.run(AttentionShape.of(q, k, v.shape[-1], key_bias), ways)
