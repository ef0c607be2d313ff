"""Times every attention way on the shapes a tracked frame meets and prints the fixed rule's pick
beside the fastest (the measurements behind ``sam2.runtime.attention_rule``).

    python -m bench.attention_rule                  # fp32, and bf16 where the CPU computes it
    python -m bench.attention_rule --objects 3 --memory-frames 7

Shapes are those of SAM 2.1 tiny at 1024 px (a 64x64 grid of 256-wide tokens): memory attention's
self-attention, its cross-attention to 64-wide memories of 1 to ``--memory-frames`` frames (with
the way that attends before the value projection), and the mask decoder's token attentions.
"""

import argparse
import statistics
import time
from typing import Callable, Dict, List, Tuple

import torch

from sam2.modeling.attention import RoPEAttention, RotaryLayout
from sam2.modeling.attention_kernels import KERNELS
from sam2.runtime import attention
from sam2.runtime.attention_rule import VALUES_AFTER, AttentionShape, rule_way
from sam2.runtime.precision import cpu_flags, fastest_safe_dtype

GRID = (64, 64)
TOKENS = GRID[0] * GRID[1]
OBJECT_POINTER_TOKENS = 64  # 16 pointers of 4 tokens each, appended to the memories


def seconds(call: Callable[[], torch.Tensor], repeats: int) -> float:
    """Median seconds of ``call`` after one untimed run."""
    call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def kernel_cases(objects: int, dtype: torch.dtype) -> List[Tuple[AttentionShape, Dict[str, Callable]]]:
    """Self-attention over the frame's tokens and the decoder's token attentions: plain kernels."""
    cases = []
    for batch, heads, queries, keys, width in ((objects, 1, TOKENS, TOKENS, 256), (objects, 8, TOKENS, 8, 16),
                                               (objects, 8, 8, TOKENS, 16)):
        q, k, v = (torch.randn(batch, heads, n, width).to(dtype) for n in (queries, keys, keys))
        ways = {name: (lambda kernel=kernel, q=q, k=k, v=v: kernel(q, k, v)) for name, kernel in KERNELS.items()}
        cases.append((AttentionShape.of(q, k, width), ways))
    return cases


def cross_attention_cases(objects: int, memory_frames: int, dtype: torch.dtype):
    """Memory cross-attention to 64-wide memories: fused, chunked, and chunked with values after."""
    layer = RoPEAttention(256, 1, kv_in_dim=64).eval()
    queries = torch.randn(objects, TOKENS, 256)
    cases = []
    for frames in sorted({1, max(1, memory_frames // 2), memory_frames}):
        memory = torch.randn(objects, frames * TOKENS + OBJECT_POINTER_TOKENS, 64)
        with torch.autocast("cpu", torch.bfloat16, enabled=dtype == torch.bfloat16):
            keys = layer.rotated_projection(memory, "k_proj", RotaryLayout(GRID), num_unrotated=OBJECT_POINTER_TOKENS)

        def way(name, keys=keys, memory=memory):
            def run():
                attention.forced_way = name
                try:
                    with torch.autocast("cpu", torch.bfloat16, enabled=dtype == torch.bfloat16):
                        return layer.attend_to_keys(queries, keys, memory.to(keys.dtype), GRID)
                finally:
                    attention.forced_way = None
            return run

        shape = AttentionShape("cpu", dtype, objects, 1, TOKENS, keys.shape[-2], 256, 64, values_after=True)
        cases.append((shape, {name: way(name) for name in (*KERNELS, VALUES_AFTER)}))
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=2)
    parser.add_argument("--memory-frames", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    dtypes = [torch.float32] + ([torch.bfloat16] if fastest_safe_dtype("cpu") == torch.bfloat16 else [])
    flags = sorted(flag for flag in cpu_flags() if flag.startswith(("amx", "avx512_bf16", "avx2")))
    print(f"CPU flags that matter: {', '.join(flags) or 'none'}; {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}")
    misses = 0
    with torch.inference_mode():
        for dtype in dtypes:
            cases = kernel_cases(args.objects, dtype) + cross_attention_cases(args.objects, args.memory_frames, dtype)
            for shape, ways in cases:
                timed = {name: seconds(call, args.repeats) for name, call in ways.items()}
                fastest, picked = min(timed, key=timed.get), rule_way(shape, list(ways))
                slower = timed[picked] / timed[fastest] - 1
                misses += slower > 0.1
                print(f"{shape.key}\n    " + ", ".join(f"{name} {1000 * t:.1f} ms" for name, t in timed.items())
                      + f"\n    fastest: {fastest}; rule: {picked}"
                      + ("" if picked == fastest else f" ({100 * slower:.0f}% slower)"))
    print(f"\nthe rule's pick is more than 10% slower than the fastest on {misses} shape(s)")


if __name__ == "__main__":
    main()
