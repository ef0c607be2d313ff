"""What a Track press reports while it runs: frames counted once, and a speed (with the time
left) measured over the last frames only, once a few are done."""

import time
from collections import deque
from typing import Callable, Iterable, Optional, Set

from ..model.calls import TrackRun

SPEED_WINDOW = 10  # frames the speed is measured over
FRAMES_BEFORE_SPEED = 3  # frames done (after the first) before a speed is shown


class FrameCounter:
    """Counts a Track press's frames once each (a backward pass starts on a frame the forward
    pass already yielded, and may go back over more of them for objects first prompted
    later), and its steps (every frame the model yields, repeats included) for the share done."""

    def __init__(self, runs: Iterable[TrackRun]) -> None:
        runs = list(runs)
        self.total = len(set().union(*(run.frames for run in runs)))
        self.steps_total = sum(run.count for run in runs)
        self.steps = 0
        self._yielded: Set[int] = set()

    def add(self, frame_idx: int) -> None:
        self.steps += 1
        self._yielded.add(frame_idx)

    @property
    def done(self) -> int:
        return len(self._yielded)

    @property
    def steps_left(self) -> int:
        return self.steps_total - self.steps

    @property
    def percent(self) -> int:
        return 100 * self.steps // max(self.steps_total, 1)


class SpeedMeter:
    """Steps per second over the last ``SPEED_WINDOW`` steps; None until
    ``FRAMES_BEFORE_SPEED`` frames after the first are done (the first is the prompted frame,
    whose output is at hand, and it would make the first estimate far too fast)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.marks: deque = deque(maxlen=SPEED_WINDOW + 1)  # (time, steps done) after each step

    def add(self, done: int) -> None:
        self.marks.append((self.clock(), done))

    @property
    def frames_per_second(self) -> Optional[float]:
        if len(self.marks) <= FRAMES_BEFORE_SPEED:
            return None
        (start, done_then), (now, done) = self.marks[0], self.marks[-1]
        return (done - done_then) / max(now - start, 1e-6)
