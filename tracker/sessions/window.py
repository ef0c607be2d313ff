"""The part of a video a session works on: a window of source frames, chosen by time or frame.

A video opens whole; tracking and exports cover the window, whose length the server limits
(``Limits.max_frames``). Frame numbers stay the source's everywhere.
"""

from dataclasses import dataclass
from typing import Iterator, Sequence, Tuple

import numpy as np

from ..errors import UserError

SECONDS, FRAMES = "seconds", "frames"


@dataclass(frozen=True)
class FrameWindow:
    """Source frames ``start`` to ``stop - 1``."""

    start: int
    stop: int

    @property
    def last(self) -> int:
        return self.stop - 1

    def __len__(self) -> int:
        return max(self.stop - self.start, 0)

    def __contains__(self, frame_idx: object) -> bool:
        return isinstance(frame_idx, int) and self.start <= frame_idx < self.stop

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.start, self.stop))

    def clamp(self, frame_idx: int) -> int:
        return min(max(frame_idx, self.start), self.last)


def first_window(num_frames: int, max_frames: int) -> FrameWindow:
    """The default window: from the start of the video, up to the limit."""
    return FrameWindow(0, min(num_frames, max_frames))


def frame_at_time(times: Sequence[float], seconds: float) -> int:
    """The first frame shown at or after ``seconds`` (``times``: each frame's start in seconds)."""
    return int(np.searchsorted(np.asarray(times), seconds - 1e-6))


def _number(value, what: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError) as error:
        raise UserError(f"The window's {what} must be a number.") from error
    if not np.isfinite(number) or number < 0:
        raise UserError(f"The window's {what} must be 0 or more.")
    return number


def window_from(start, end, unit: str, times: Sequence[float], max_frames: int) -> FrameWindow:
    """The window from ``start`` to ``end`` (inclusive frames, or seconds: the frames shown in
    [start, end)) of a video whose frames start at ``times``; checked against ``max_frames``."""
    first, last = _number(start, "start"), _number(end, "end")
    num_frames = len(times)
    if unit == FRAMES:
        window = FrameWindow(int(first), int(last) + 1)
        span = f"frames {int(first)} to {int(last)}"
    elif unit == SECONDS:
        window = FrameWindow(frame_at_time(times, first), frame_at_time(times, last))
        span = f"{first:g} s to {last:g} s"
    else:
        raise UserError(f"Unknown window unit {unit!r}.")
    if window.start >= num_frames:
        raise UserError(f"The window starts after the end of the video ({num_frames} frames, "
                        f"{duration(times):.1f} s).")
    window = FrameWindow(window.start, min(window.stop, num_frames))
    if len(window) <= 0:
        raise UserError(f"The window {span} holds no frame: the end must come after the start.")
    if len(window) > max_frames:
        raise UserError(f"The window {span} holds {len(window)} frames; this app tracks at most {max_frames} "
                        "at once: choose a shorter window.")
    return window


def duration(times: Sequence[float]) -> float:
    """The video's length in seconds: the last frame's start plus one frame's duration."""
    if len(times) < 2:
        return 0.0
    return float(times[-1] + (times[-1] - times[0]) / (len(times) - 1))


def seconds(window: FrameWindow, times: Sequence[float]) -> Tuple[float, float]:
    """When the window starts and ends (the next frame's start, or the video's end), in seconds."""
    end = times[window.stop] if window.stop < len(times) else duration(times)
    return float(times[window.start]), float(end)


def describe(window: FrameWindow, times: Sequence[float]) -> str:
    """E.g. "frames 600-749 (20.0-25.0 s)", or "frame 7 (0.7-0.8 s)"."""
    start, end = seconds(window, times)
    frames = f"frame {window.start}" if len(window) == 1 else f"frames {window.start}-{window.last}"
    return f"{frames} ({start:.1f}-{end:.1f} s)"
