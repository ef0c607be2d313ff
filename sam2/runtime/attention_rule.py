"""The fixed rule that picks a CPU attention kernel from the CPU's features and the shape.

Written from timings of every way on the shapes a tracked frame meets (``python -m
bench.attention_rule`` prints them with the rule's pick beside the fastest; SAM 2.1 tiny at
1024 px, 2 objects, 2 threads):

- small attentions (fewer than 2**20 scores per head, such as the mask decoder's token
  attentions) take the fused kernel, the official code's: the other ways save at most ~1.5 ms
  a call there (bf16 without AMX: 2.6 against 4.1 ms), not worth other numerics;
- bfloat16 on CPUs with AMX: the fused kernel (its flash attention runs on the tile unit;
  memory cross-attention, one layer: fused 0.30 s, chunked with values after 0.42);
- bfloat16 without AMX (AVX512-BF16): plain matmuls in query chunks, and where offered
  attending to the 64-wide memories before their value projection (self-attention 107 against
  192 ms fused; cross-attention to 7 frames 575 against 1357);
- float32: attending before the value projection where offered (cross-attention to 1-3 frames
  162 against 224 ms fused; at 7 frames within 3% of fused), chunks where the values are narrower
  than the keys, else the fused kernel (self-attention 201 against 222 ms).
"""

from dataclasses import dataclass
from typing import Collection, Optional

import torch

from .precision import cpu_flags

SMALL_SCORES = 2**20  # scores per head (queries x keys) below which the fused kernel runs
VALUES_AFTER = "chunked, values after"


@dataclass(frozen=True)
class AttentionShape:
    """One attention call's shape: (batch, heads, queries, width) queries against (batch, heads,
    keys, width) keys with ``values``-wide values; ``biased`` with a key bias; ``values_after``
    when the ways include attending to unprojected values."""

    device: str
    dtype: torch.dtype
    batch: int
    heads: int
    queries: int
    keys: int
    width: int
    values: int
    biased: bool = False
    values_after: bool = False

    @classmethod
    def of(cls, q: torch.Tensor, k: torch.Tensor, value_width: int, key_bias: Optional[torch.Tensor] = None,
           values_after: bool = False) -> "AttentionShape":
        return cls(q.device.type, q.dtype, q.shape[0], q.shape[1], q.shape[-2], k.shape[-2], q.shape[-1],
                   value_width, key_bias is not None, values_after)

    @property
    def key(self) -> str:
        """The shape class timings are kept under: key counts rounded up to a power of two
        (memory banks grow a frame at a time), everything else as it is."""
        keys = 1 << max(self.keys - 1, 0).bit_length()
        dtype = str(self.dtype).removeprefix("torch.")
        text = (f"{self.device} {dtype} batch {self.batch}x{self.heads} queries {self.queries} keys<={keys} "
                f"width {self.width} values {self.values}{' biased' if self.biased else ''}")
        return text + (" (values before or after)" if self.values_after else "")


def rule_way(shape: AttentionShape, offered: Collection[str], flags: Optional[Collection[str]] = None) -> str:
    """The way to run among ``offered`` ("fused", "chunked", "chunked, values after") for
    ``shape`` on a CPU with these feature ``flags`` (None: this CPU's)."""
    flags = cpu_flags() if flags is None else flags
    if shape.queries * shape.keys < SMALL_SCORES:
        choice = "fused"
    elif shape.dtype == torch.bfloat16 and "amx_bf16" in flags:
        choice = "fused"
    elif VALUES_AFTER in offered:
        choice = VALUES_AFTER
    elif shape.dtype == torch.bfloat16 or shape.values < shape.width:
        choice = "chunked"
    else:
        choice = "fused"
    return choice if choice in offered else next(iter(offered))
