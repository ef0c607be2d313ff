"""The per-object timeline image, its column -> frame inverse, and the legend on overlay frames."""

import time

import numpy as np
import pytest

from tracker.overlay import draw_legend
from tracker.palette import object_color
from tracker.timeline import AXIS_HEIGHT, LABEL_WIDTH, MARKER_COLOR, TimelineRow, draw_timeline, frame_at

WIDTH = 800
ROW_HEIGHT = 18


def _bar_heights(image: np.ndarray, row: int, obj_id: int) -> np.ndarray:
    """(W,) number of pixels in each column of row ``row`` painted in the object's colour."""
    band = image[row * ROW_HEIGHT:(row + 1) * ROW_HEIGHT]
    return np.all(band == object_color(obj_id), axis=-1).sum(axis=0)


def _plot_frames(first: int, last: int) -> np.ndarray:
    """(W - LABEL_WIDTH,) the frame under each plot column."""
    return np.array([frame_at(x, first, last, WIDTH) for x in range(LABEL_WIDTH, WIDTH)])


def test_bar_is_drawn_exactly_where_the_object_is_present():
    present = {605, 606, 611}
    image = draw_timeline([TimelineRow(1, "cat", {f: 100 for f in present} | {607: 0})], 600, 619)
    assert image.shape == (ROW_HEIGHT + AXIS_HEIGHT, WIDTH, 3) and image.dtype == np.uint8
    has_bar = _bar_heights(image, 0, 1)[LABEL_WIDTH:] > 0
    assert np.array_equal(has_bar, np.isin(_plot_frames(600, 619), list(present)))


def test_rows_are_stacked_and_an_empty_row_stays_empty():
    rows = [TimelineRow(1, "a", {0: 5}), TimelineRow(2, "b", {}), TimelineRow(3, "c", {9: 5})]
    image = draw_timeline(rows, 0, 9, row_height=ROW_HEIGHT)
    assert image.shape == (3 * ROW_HEIGHT + AXIS_HEIGHT, WIDTH, 3)
    plot = image[:, LABEL_WIDTH:]
    assert not np.all(plot[ROW_HEIGHT:2 * ROW_HEIGHT] == object_color(2), axis=-1).any()
    assert _bar_heights(image, 0, 1)[LABEL_WIDTH] > 0 and _bar_heights(image, 2, 3)[WIDTH - 1] > 0


def test_bar_height_grows_with_area_and_small_areas_stay_visible():
    areas = {1: 1, 3: 30, 5: 60, 7: 100}
    heights = _bar_heights(draw_timeline([TimelineRow(4, "d", areas)], 0, 9), 0, 4)
    frames = _plot_frames(0, 9)
    per_frame = [int(heights[LABEL_WIDTH:][frames == f].max()) for f in sorted(areas)]
    assert per_frame == sorted(per_frame) and len(set(per_frame)) == len(per_frame)
    assert per_frame[0] >= 2 and per_frame[-1] <= ROW_HEIGHT


@pytest.mark.parametrize("first, last, shown", [(600, 619, 607), (0, 3599, 1234), (10, 10, 10)])
def test_marker_is_at_the_shown_frame(first, last, shown):
    image = draw_timeline([TimelineRow(1, "a", {})], first, last, shown_frame=shown)
    columns = np.flatnonzero(np.all(image[:ROW_HEIGHT] == MARKER_COLOR, axis=-1).all(axis=0))
    assert columns.size >= 1
    frames = [frame_at(x, first, last) for x in columns]
    n, plot = last - first + 1, WIDTH - LABEL_WIDTH
    if n > plot:  # the marker's column covers a few frames, the shown one among them
        assert frames[0] <= shown < frame_at(columns[0] + 1, first, last) or columns[0] == WIDTH - 1
    else:
        assert frames == [shown] * len(frames)


def test_no_marker_when_shown_frame_is_outside_the_window():
    image = draw_timeline([TimelineRow(1, "a", {})], 600, 619, shown_frame=700)
    assert not np.all(image[:ROW_HEIGHT] == MARKER_COLOR, axis=-1).all(axis=0).any()


@pytest.mark.parametrize("first, last", [(600, 611), (0, 0), (5, 5 + WIDTH - LABEL_WIDTH - 1), (0, 1)])
def test_frame_at_inverts_the_mapping_of_a_short_window(first, last):
    frames = _plot_frames(first, last)
    assert frames[0] == first and frames[-1] == last
    assert np.all(np.diff(frames) >= 0)
    assert set(frames) == set(range(first, last + 1))  # each frame owns a contiguous run of columns
    assert frame_at(WIDTH + 50, first, last) == last
    assert frame_at(LABEL_WIDTH + 0.7, first, last) == first


def test_label_column_gives_none():
    assert frame_at(0, 600, 700) is None
    assert frame_at(LABEL_WIDTH - 0.5, 600, 700) is None
    assert frame_at(-3, 600, 700) is None


def test_long_window_bins_frames_and_keeps_single_frame_objects():
    first, last = 600, 4199
    frames = _plot_frames(first, last)
    assert frames[0] == first and np.all(np.diff(frames) >= 1)
    for present in (first, 1834, 2500, last):
        heights = _bar_heights(draw_timeline([TimelineRow(2, "x", {present: 9})], first, last), 0, 2)
        columns = np.flatnonzero(heights[LABEL_WIDTH:])
        assert columns.size == 1
        column = columns[0]
        assert frames[column] <= present and (column == len(frames) - 1 or present < frames[column + 1])


def test_binned_column_takes_the_largest_area_of_its_frames():
    first, last = 0, 3599
    frames = _plot_frames(first, last)
    column = 100
    covered = range(frames[column], frames[column + 1])
    areas = {covered[0]: 10, covered[-1]: 1000, 3000: 1000}
    heights = _bar_heights(draw_timeline([TimelineRow(1, "a", areas)], first, last), 0, 1)
    assert heights[LABEL_WIDTH + column] == heights[LABEL_WIDTH:].max()


def test_no_rows_is_still_an_image():
    image = draw_timeline([], 600, 700, shown_frame=650)
    assert image.shape == (ROW_HEIGHT + AXIS_HEIGHT, WIDTH, 3) and image.dtype == np.uint8


def test_bad_windows_are_rejected():
    with pytest.raises(ValueError, match="before"):
        draw_timeline([], 10, 9)
    with pytest.raises(ValueError, match="label column"):
        frame_at(10, 0, 9, width=LABEL_WIDTH)


def test_three_objects_over_3600_frames_draw_fast():
    rng = np.random.default_rng(0)
    rows = [TimelineRow(i, f"object {i}", {f: int(rng.integers(1, 10_000)) for f in range(3600) if rng.random() < 0.8})
            for i in (1, 2, 3)]
    draw_timeline(rows, 0, 3599, shown_frame=1800)
    best = min(_timed(lambda: draw_timeline(rows, 0, 3599, shown_frame=1800)) for _ in range(5))
    assert best < 0.02


def _timed(call) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


@pytest.mark.parametrize("height, width", [(240, 320), (1080, 1920)])
def test_legend_draws_swatches_top_left_and_leaves_the_rest(height, width):
    frame = np.full((height, width, 3), 128, np.uint8)
    out = draw_legend(frame, [(1, "person"), (2, "dog")])
    rows, columns = np.nonzero(np.any(out != frame, axis=-1))
    assert rows.size and rows.max() < height / 2 and columns.max() < width / 2
    corner = out[:height // 4, :width // 4]
    for obj_id in (1, 2):
        assert np.all(corner == object_color(obj_id), axis=-1).sum() >= 16
    assert np.array_equal(frame, np.full((height, width, 3), 128, np.uint8))


def test_legend_without_entries_returns_an_unchanged_copy():
    frame = np.random.default_rng(0).integers(0, 255, (240, 320, 3), dtype=np.uint8)
    out = draw_legend(frame, [])
    assert np.array_equal(out, frame) and out is not frame
