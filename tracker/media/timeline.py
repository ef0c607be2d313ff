"""A compact per-object timeline image: one row of bars per object, a frame-number axis below.

Every column is a frame: there are no labels in the image (the page names the rows in the
object list above it, in the same order and colours, and each row is tinted with its object's
colour), so a click anywhere on it picks a frame. Frames ``first_frame..last_frame`` spread over
the image's columns: frame offset ``i`` of ``n`` starts at column ``i * width // n``. With more
frames than columns a column covers several frames (present if present in any, area = max);
with fewer, a frame covers several columns. A tracked frame where the object was judged absent
(an empty mask) gets a short red dash on its row, so losing the object (and finding it again)
shows apart from frames not tracked yet. An object found by text gets a yellow mark at the top
of its row on the frame where it was found.
"""

import math
from dataclasses import dataclass
from typing import List, Mapping, Optional, Sequence, Tuple

import cv2
import numpy as np

from .overlay import FONT
from .palette import object_color

WIDTH = 720  # px: shown unscaled beside a 1280 px wide laptop screen's viewer
ROW_HEIGHT = 24  # px per object: a target a click does not miss
AXIS_HEIGHT = 16  # px, the frame-number axis at the bottom
BAR_PADDING = 3  # px above and below the tallest bar of a row
MIN_BAR_HEIGHT = 2  # px, the bar of the smallest present area
BACKGROUND = (24, 24, 28)
ROW_TINT = 0.22  # how much of its object's colour a row's background takes
MARKER_COLOR = (255, 255, 255)
ABSENT_COLOR = (235, 87, 87)  # the dash of a frame where the object was judged absent
ABSENT_DASH_HEIGHT = 4  # px, centred in the row
FOUND_COLOR = (250, 210, 40)  # the mark of the frame where "Find by text" found the object
FOUND_MARK_HEIGHT = 6  # px, from the top of the row
TEXT_COLOR = (170, 170, 170)
AXIS_TEXT_SCALE = 0.35


@dataclass(frozen=True)
class TimelineRow:
    """One object's row: ``areas`` maps tracked frame index -> mask area in px (0: judged absent
    there; missing: no mask yet); ``found_at``: the frame where it was found by text."""

    obj_id: int
    areas: Mapping[int, int]
    found_at: Optional[int] = None


def _window(first_frame: int, last_frame: int, width: int) -> int:
    """The number of frames of a window drawn ``width`` px wide, validated."""
    if last_frame < first_frame:
        raise ValueError(f"last_frame {last_frame} is before first_frame {first_frame}")
    if width < 1:
        raise ValueError(f"a timeline needs a width of at least 1 px, got {width}")
    return last_frame - first_frame + 1


def _first_frame_of_column(columns: np.ndarray, n_frames: int, width: int) -> np.ndarray:
    """Window offset of the first frame drawn in each column, same shape as ``columns``."""
    return (columns * n_frames + min(n_frames, width) - 1) // width


def _frame_x(offset: int, n_frames: int, width: int) -> Tuple[int, int]:
    """(centre column, width in columns) of the frame at window ``offset``."""
    start = offset * width // n_frames
    stop = max(start + 1, (offset + 1) * width // n_frames)
    return (start + stop - 1) // 2, stop - start


def frame_at(x: float, first_frame: int, last_frame: int, width: int = WIDTH) -> int:
    """Source frame under column ``x`` of a timeline of this ``width`` (clamped to the image)."""
    n_frames = _window(first_frame, last_frame, width)
    column = min(max(int(x), 0), width - 1)
    return first_frame + int(_first_frame_of_column(np.int64(column), n_frames, width))


def _column_areas(areas: Mapping[int, int], first_frame: int, n_frames: int, width: int) -> np.ndarray:
    """(width,) int64: the largest area among the frames each column covers."""
    per_frame = np.zeros(n_frames, np.int64)
    if areas:
        frames = np.fromiter(areas.keys(), np.int64, len(areas)) - first_frame
        values = np.fromiter(areas.values(), np.int64, len(areas))
        inside = (frames >= 0) & (frames < n_frames)
        per_frame[frames[inside]] = np.maximum(values[inside], 0)
    starts = _first_frame_of_column(np.arange(width), n_frames, width)
    return np.maximum.reduceat(per_frame, starts)


def _column_absent(areas: Mapping[int, int], first_frame: int, n_frames: int, width: int) -> np.ndarray:
    """(width,) bool: columns covering a frame where the object was judged absent (area 0)."""
    per_frame = np.zeros(n_frames, bool)
    for frame, area in areas.items():
        if area <= 0 and 0 <= frame - first_frame < n_frames:
            per_frame[frame - first_frame] = True
    starts = _first_frame_of_column(np.arange(width), n_frames, width)
    return np.logical_or.reduceat(per_frame, starts)


def _draw_bars(track: np.ndarray, column_areas: np.ndarray, color: Tuple[int, int, int]) -> None:
    """Paint bottom-aligned bars into ``track`` (height, width, 3) in place, scaled to the row's max area."""
    peak = column_areas.max()
    if peak <= 0:
        return
    bottom = track.shape[0] - BAR_PADDING
    full = max(1, bottom - BAR_PADDING)
    heights = np.clip(np.round(column_areas * (full / peak)), min(MIN_BAR_HEIGHT, full), full)
    heights[column_areas <= 0] = 0
    rows = np.arange(track.shape[0])[:, None]
    track[(rows < bottom) & (rows >= bottom - heights)] = color


def _row_background(color: Tuple[int, int, int]) -> np.ndarray:
    """(3,) uint8: the page's background tinted with an object's colour."""
    return np.round(np.add(np.multiply(BACKGROUND, 1 - ROW_TINT), np.multiply(color, ROW_TINT))).astype(np.uint8)


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
    width = image.shape[1]
    n_frames = _window(first_frame, last_frame, width)
    ticks = _tick_frames(first_frame, last_frame)
    taken: List[Tuple[int, int]] = []
    for frame in [ticks[0], ticks[-1], *ticks[1:-1]]:
        x, _ = _frame_x(frame - first_frame, n_frames, width)
        text = str(frame)
        text_width = cv2.getTextSize(text, FONT, AXIS_TEXT_SCALE, 1)[0][0]
        left = min(max(x - text_width // 2, 1), width - text_width - 1)
        if any(left < end + 6 and start < left + text_width + 6 for start, end in taken):
            continue
        taken.append((left, left + text_width))
        cv2.line(image, (x, top), (x, top + 2), TEXT_COLOR, 1)
        cv2.putText(image, text, (left, top + AXIS_HEIGHT - 3), FONT, AXIS_TEXT_SCALE, TEXT_COLOR, 1, cv2.LINE_AA)


def draw_timeline(rows: Sequence[TimelineRow], first_frame: int, last_frame: int, shown_frame: Optional[int] = None,
                  width: int = WIDTH, row_height: int = ROW_HEIGHT) -> np.ndarray:
    """An (max(1, len(rows)) * row_height + AXIS_HEIGHT, width, 3) uint8 RGB timeline of source frames
    ``first_frame..last_frame``, rows in the order given, with a vertical marker at ``shown_frame``
    when it is in the window."""
    n_frames = _window(first_frame, last_frame, width)
    n_rows = max(1, len(rows))
    image = np.empty((n_rows * row_height + AXIS_HEIGHT, width, 3), np.uint8)
    image[:] = BACKGROUND
    for index, row in enumerate(rows):
        color = object_color(row.obj_id)
        track = image[index * row_height:(index + 1) * row_height - 1]  # a 1 px gap between rows
        track[:] = _row_background(color)
        column_areas = _column_areas(row.areas, first_frame, n_frames, width)
        _draw_bars(track, column_areas, color)
        absent = _column_absent(row.areas, first_frame, n_frames, width) & (column_areas <= 0)
        middle = track.shape[0] // 2
        track[middle - ABSENT_DASH_HEIGHT // 2: middle + ABSENT_DASH_HEIGHT // 2, absent] = ABSENT_COLOR
        if row.found_at is not None and first_frame <= row.found_at <= last_frame:
            x, span = _frame_x(row.found_at - first_frame, n_frames, width)
            track[:FOUND_MARK_HEIGHT, max(0, x - 1):x + max(3, span)] = FOUND_COLOR
    if shown_frame is not None and first_frame <= shown_frame <= last_frame:
        x, span = _frame_x(shown_frame - first_frame, n_frames, width)
        image[:n_rows * row_height + 3, x:x + min(2, span)] = MARKER_COLOR
    _draw_axis(image, n_rows * row_height, first_frame, last_frame)
    return image
