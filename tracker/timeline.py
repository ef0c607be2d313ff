"""A compact per-object timeline image: one row of bars per object, a frame-number axis below.

Frames ``first_frame..last_frame`` spread over the plot columns right of the label column: frame offset ``i``
of ``n`` starts at plot column ``i * plot_width // n``. With more frames than columns a column covers several
frames (present if present in any, area = max); with fewer, a frame covers several columns.
"""

import math
from dataclasses import dataclass
from typing import List, Mapping, Optional, Sequence, Tuple

import cv2
import numpy as np

from .overlay import FONT, fit_text
from .palette import object_color

LABEL_WIDTH = 120  # px, the name column on the left of every timeline image
AXIS_HEIGHT = 16  # px, the frame-number axis at the bottom
BAR_PADDING = 2  # px above and below the tallest bar of a row
MIN_BAR_HEIGHT = 2  # px, the bar of the smallest present area
BACKGROUND = (24, 24, 28)
TRACK_COLORS = ((44, 44, 52), (36, 36, 43))  # alternating row backgrounds of the plot area
MARKER_COLOR = (255, 255, 255)
TEXT_COLOR = (170, 170, 170)
AXIS_TEXT_SCALE = 0.35


@dataclass(frozen=True)
class TimelineRow:
    """One object's row: ``areas`` maps frame index -> mask area in px (0 or missing = absent there)."""

    obj_id: int
    name: str
    areas: Mapping[int, int]


def _window(first_frame: int, last_frame: int, width: int) -> Tuple[int, int]:
    """(number of frames, plot width in px) of a window, validated."""
    if last_frame < first_frame:
        raise ValueError(f"last_frame {last_frame} is before first_frame {first_frame}")
    if width <= LABEL_WIDTH:
        raise ValueError(f"width {width} leaves no room right of the {LABEL_WIDTH} px label column")
    return last_frame - first_frame + 1, width - LABEL_WIDTH


def _first_frame_of_column(columns: np.ndarray, n_frames: int, plot_width: int) -> np.ndarray:
    """Window offset of the first frame drawn in each plot column, same shape as ``columns``."""
    return (columns * n_frames + min(n_frames, plot_width) - 1) // plot_width


def _frame_x(offset: int, n_frames: int, plot_width: int) -> Tuple[int, int]:
    """(centre image column, width in columns) of the frame at window ``offset``."""
    start = offset * plot_width // n_frames
    stop = max(start + 1, (offset + 1) * plot_width // n_frames)
    return LABEL_WIDTH + (start + stop - 1) // 2, stop - start


def frame_at(x: float, first_frame: int, last_frame: int, width: int = 800) -> Optional[int]:
    """Source frame under image column ``x`` of a timeline of this ``width``; None in the label column."""
    n_frames, plot_width = _window(first_frame, last_frame, width)
    if x < LABEL_WIDTH:
        return None
    column = min(int(x) - LABEL_WIDTH, plot_width - 1)
    return first_frame + int(_first_frame_of_column(np.int64(column), n_frames, plot_width))


def _column_areas(areas: Mapping[int, int], first_frame: int, n_frames: int, plot_width: int) -> np.ndarray:
    """(plot_width,) int64: the largest area among the frames each plot column covers."""
    per_frame = np.zeros(n_frames, np.int64)
    if areas:
        frames = np.fromiter(areas.keys(), np.int64, len(areas)) - first_frame
        values = np.fromiter(areas.values(), np.int64, len(areas))
        inside = (frames >= 0) & (frames < n_frames)
        per_frame[frames[inside]] = np.maximum(values[inside], 0)
    starts = _first_frame_of_column(np.arange(plot_width), n_frames, plot_width)
    return np.maximum.reduceat(per_frame, starts)


def _draw_bars(track: np.ndarray, column_areas: np.ndarray, color: Tuple[int, int, int]) -> None:
    """Paint bottom-aligned bars into ``track`` (row_height, plot_width, 3) in place, scaled to the row's max area."""
    peak = column_areas.max()
    if peak <= 0:
        return
    bottom = track.shape[0] - BAR_PADDING
    full = max(1, bottom - BAR_PADDING)
    heights = np.clip(np.round(column_areas * (full / peak)), min(MIN_BAR_HEIGHT, full), full)
    heights[column_areas <= 0] = 0
    rows = np.arange(track.shape[0])[:, None]
    track[(rows < bottom) & (rows >= bottom - heights)] = color


def _draw_label(image: np.ndarray, top: int, row_height: int, text: str, color: Tuple[int, int, int]) -> None:
    """Write ``text`` in the label column of the row starting at image row ``top``, in place."""
    scale = row_height / 40
    text = fit_text(text, LABEL_WIDTH - 8, scale)
    text_height = cv2.getTextSize("A", FONT, scale, 1)[0][1]
    cv2.putText(image, text, (4, top + (row_height + text_height) // 2), FONT, scale, color, 1, cv2.LINE_AA)


def _tick_frames(first_frame: int, last_frame: int) -> List[int]:
    """First, last, and round frame numbers between them about a fifth of the window apart."""
    span = last_frame - first_frame
    if span == 0:
        return [first_frame]
    raw = span / 5
    magnitude = 10 ** math.floor(math.log10(raw))
    step = max(1, int(next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)))
    return [first_frame, *range((first_frame // step + 1) * step, last_frame, step), last_frame]


def _draw_axis(image: np.ndarray, top: int, first_frame: int, last_frame: int) -> None:
    """Tick marks and non-overlapping frame-number labels in the axis strip starting at image row ``top``."""
    n_frames, plot_width = _window(first_frame, last_frame, image.shape[1])
    ticks = _tick_frames(first_frame, last_frame)
    taken: List[Tuple[int, int]] = []
    for frame in [ticks[0], ticks[-1], *ticks[1:-1]]:
        x, _ = _frame_x(frame - first_frame, n_frames, plot_width)
        text = str(frame)
        text_width = cv2.getTextSize(text, FONT, AXIS_TEXT_SCALE, 1)[0][0]
        left = min(max(x - text_width // 2, LABEL_WIDTH), image.shape[1] - text_width - 1)
        if any(left < end + 6 and start < left + text_width + 6 for start, end in taken):
            continue
        taken.append((left, left + text_width))
        cv2.line(image, (x, top), (x, top + 2), TEXT_COLOR, 1)
        cv2.putText(image, text, (left, top + AXIS_HEIGHT - 3), FONT, AXIS_TEXT_SCALE, TEXT_COLOR, 1, cv2.LINE_AA)


def draw_timeline(rows: Sequence[TimelineRow], first_frame: int, last_frame: int, shown_frame: Optional[int] = None,
                  width: int = 800, row_height: int = 18) -> np.ndarray:
    """An (max(1, len(rows)) * row_height + AXIS_HEIGHT, width, 3) uint8 RGB timeline of source frames
    ``first_frame..last_frame``, with a vertical marker at ``shown_frame`` when it is in the window."""
    n_frames, plot_width = _window(first_frame, last_frame, width)
    n_rows = max(1, len(rows))
    image = np.empty((n_rows * row_height + AXIS_HEIGHT, width, 3), np.uint8)
    image[:] = BACKGROUND
    for index in range(n_rows):
        image[index * row_height:(index + 1) * row_height, LABEL_WIDTH:] = TRACK_COLORS[index % 2]
    for index, row in enumerate(rows):
        top = index * row_height
        color = object_color(row.obj_id)
        track = image[top:top + row_height, LABEL_WIDTH:]
        _draw_bars(track, _column_areas(row.areas, first_frame, n_frames, plot_width), color)
        _draw_label(image, top, row_height, row.name, color)
    if not rows:
        _draw_label(image, 0, row_height, "no objects", TEXT_COLOR)
    if shown_frame is not None and first_frame <= shown_frame <= last_frame:
        x, span = _frame_x(shown_frame - first_frame, n_frames, plot_width)
        image[:n_rows * row_height + 3, x:x + min(2, span)] = MARKER_COLOR
    _draw_axis(image, n_rows * row_height, first_frame, last_frame)
    return image
