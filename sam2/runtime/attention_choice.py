"""Which way of computing an attention is fastest here, found by timing the ways once (the
opt-in of :mod:`sam2.runtime.attention`, ``benchmark = True``).

Callers offer the ways they can compute one attention (all giving the same result up to
rounding) with a *shape class*; the first call of a class runs every way twice (the first run
pays one-time costs and is not timed), keeps the fastest and returns its result; later calls of
the class run only that way. Choices live for the process, or in a JSON file across processes
(``remember_in``), keyed by CPU model, torch version and thread count.
"""

from __future__ import annotations

import json
import os
import platform
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Mapping, Optional

import torch

Way = Callable[[], torch.Tensor]


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo where there is one)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_key() -> str:
    """What a timing depends on besides the shapes: CPU model, torch version, threads."""
    return f"{cpu_model()} | torch {torch.__version__} | {torch.get_num_threads()} threads"


@dataclass
class AttentionChoices:
    """The ways chosen so far, per shape class, and how they were timed (seconds per way)."""

    clock: Callable[[], float] = time.perf_counter
    path: Optional[Path] = None
    chosen: Dict[str, str] = field(default_factory=dict)
    timings: Dict[str, Dict[str, float]] = field(default_factory=dict)
    # One timing at a time: ways timed side by side would slow each other down.
    _timing: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def remember_in(self, path: Path) -> None:
        """Keep the choices in the JSON file ``path`` from now on, starting from those it
        holds for this machine."""
        self.path = Path(path)
        self.chosen.update(self._stored().get(machine_key(), {}))

    def run(self, shape_class: str, ways: Mapping[str, Way]) -> torch.Tensor:
        """The result of the fastest of ``ways`` for ``shape_class`` (timing them if no way
        is chosen yet)."""
        if len(ways) == 1:
            return next(iter(ways.values()))()
        name = self.chosen.get(shape_class)
        if name in ways:
            return ways[name]()
        with self._timing:
            name = self.chosen.get(shape_class)  # chosen by another thread meanwhile?
            if name in ways:
                return ways[name]()
            return self._time_and_choose(shape_class, ways)

    def _time_and_choose(self, shape_class: str, ways: Mapping[str, Way]) -> torch.Tensor:
        results, seconds = {}, {}
        for name, way in ways.items():
            way()
            start = self.clock()
            results[name] = way()
            seconds[name] = self.clock() - start
        best = min(seconds, key=seconds.get)
        self.chosen[shape_class] = best
        self.timings[shape_class] = seconds
        self._store()
        return results[best]

    def _stored(self) -> dict:
        if self.path is None or not self.path.is_file():
            return {}
        try:
            stored = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return stored if isinstance(stored, dict) else {}

    def _store(self) -> None:
        if self.path is None:
            return
        stored = self._stored()
        stored[machine_key()] = dict(self.chosen)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(self.path.name + f".{os.getpid()}.tmp")
        partial.write_text(json.dumps(stored, indent=1, sort_keys=True))
        partial.replace(self.path)


# The process's timed choices (used while sam2.runtime.attention.benchmark is on).
TIMED_CHOICES = AttentionChoices()
