"""How a CPU attention kernel is picked: by a fixed rule by default, by timing on request.

``benchmark`` plays the part of ``torch.backends.cudnn.benchmark`` and is off by default: the
kernels agree only up to rounding, so a pick that depends on timing could give another mask in
another process. Off, the rule of :mod:`sam2.runtime.attention_rule` picks from the CPU's
features and the shape, the same in every process. On, the first call of each shape class times
the ways offered and keeps the fastest for the process (:mod:`sam2.runtime.attention_choice`;
``remember_choices(path)`` keeps them in a file for later starts). ``forced_way`` names a way to
run wherever it is offered ("chunked, values after" runs "chunked" where values cannot come after).

Nothing is read from the environment at import: a program that wants the ``SAM2_ATTENTION*``
variables calls :func:`configure_from_environment`.
"""

import os
from pathlib import Path
from typing import Dict, Mapping, Optional

import torch

from .attention_choice import TIMED_CHOICES, Way
from .attention_rule import AttentionShape, rule_way

benchmark: bool = False
forced_way: Optional[str] = None
# The way last run per shape class (AttentionShape.key), for reports such as bench.speed's.
picks: Dict[str, str] = {}

FORCED_WAY_VARIABLE = "SAM2_ATTENTION"
BENCHMARK_VARIABLE = "SAM2_ATTENTION_BENCHMARK"
CHOICES_FILE_VARIABLE = "SAM2_ATTENTION_CHOICES"


def run(shape: AttentionShape, ways: Mapping[str, Way]) -> torch.Tensor:
    """The result of the way picked for ``shape`` among ``ways`` (name -> call)."""
    if benchmark and not forced_way and len(ways) > 1:
        result = TIMED_CHOICES.run(shape.key, ways)
        picks[shape.key] = TIMED_CHOICES.chosen[shape.key]
        return result
    name = _forced(ways) or (next(iter(ways)) if len(ways) == 1 else rule_way(shape, ways))
    picks[shape.key] = name
    return ways[name]()


def _forced(ways: Mapping[str, Way]) -> Optional[str]:
    """The forced way if it is offered (or its kernel's way, for "chunked, values after")."""
    if forced_way:
        for name in (forced_way, forced_way.split(",")[0]):
            if name in ways:
                return name
    return None


def remember_choices(path: Path) -> None:
    """Time the ways (``benchmark`` on) and keep the choices in ``path`` across processes,
    unless ``SAM2_ATTENTION_CHOICES`` names another file (the app's default: a later start
    skips the timing)."""
    global benchmark
    benchmark = True
    TIMED_CHOICES.remember_in(Path(os.environ.get(CHOICES_FILE_VARIABLE) or path))


def configure_from_environment() -> None:
    """Apply ``SAM2_ATTENTION`` (a way to force), ``SAM2_ATTENTION_BENCHMARK=1`` (time the ways)
    and ``SAM2_ATTENTION_CHOICES`` (a file: time the ways and keep the choices there)."""
    global benchmark, forced_way
    forced_way = os.environ.get(FORCED_WAY_VARIABLE) or forced_way
    if os.environ.get(BENCHMARK_VARIABLE, "").strip().lower() in ("1", "true", "yes", "on"):
        benchmark = True
    if os.environ.get(CHOICES_FILE_VARIABLE):
        remember_choices(Path(os.environ[CHOICES_FILE_VARIABLE]))
