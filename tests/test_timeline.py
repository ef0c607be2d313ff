"""The per-object timeline image, its column -> frame inverse, and the legend on overlay frames."""

import time

import numpy as np
import pytest

from tracker.media.overlay import draw_legend
from tracker.media.palette import object_color
from tracker.media.timeline import AXIS_HEIGHT, MARKER_COLOR, ROW_HEIGHT, WIDTH, TimelineRow, draw_timeline, frame_at


def _bar_heights(image: np.ndarray, row: int, obj_id: int) -> np.ndarray:
    """(W,) number of pixels in each column of row ``row`` painted in the object's colour."""
    band = image[row * ROW_HEIGHT:(row + 1) * ROW_HEIGHT]
    return np.all(band == object_color(obj_id), axis=-1).sum(axis=0)


def _plot_frames(first: int, last: int) -> np.ndarray:
    """(W,) the frame under each column."""
    return np.array([frame_at(x, first, last, WIDTH) for x in range(WIDTH)])


def test_bar_is_drawn_exactly_where_the_object_is_present():
    present = {605, 606, 611}
    image = draw_timeline([TimelineRow(1, {f: 100 for f in present} | {607: 0})], 600, 619)
    assert image.shape == (ROW_HEIGHT + AXIS_HEIGHT, WIDTH, 3) and image.dtype == np.uint8
    has_bar = _bar_heights(image, 0, 1) > 0
    assert np.array_equal(has_bar, np.isin(_plot_frames(600, 619), list(present)))


def test_rows_are_stacked_and_an_empty_row_stays_empty():
    rows = [TimelineRow(1, {0: 5}), TimelineRow(2, {}), TimelineRow(3, {9: 5})]
    image = draw_timeline(rows, 0, 9, row_height=ROW_HEIGHT)
    assert image.shape == (3 * ROW_HEIGHT + AXIS_HEIGHT, WIDTH, 3)
    assert not np.all(image[ROW_HEIGHT:2 * ROW_HEIGHT] == object_color(2), axis=-1).any()
    assert _bar_heights(image, 0, 1)[0] > 0 and _bar_heights(image, 2, 3)[WIDTH - 1] > 0


def test_bar_height_grows_with_area_and_small_areas_stay_visible():
    areas = {1: 1, 3: 30, 5: 60, 7: 100}
    heights = _bar_heights(draw_timeline([TimelineRow(4, areas)], 0, 9), 0, 4)
    frames = _plot_frames(0, 9)
    per_frame = [int(heights[frames == f].max()) for f in sorted(areas)]
    assert per_frame == sorted(per_frame) and len(set(per_frame)) == len(per_frame)
    assert per_frame[0] >= 2 and per_frame[-1] <= ROW_HEIGHT


@pytest.mark.parametrize("first, last, shown", [(600, 619, 607), (0, 3599, 1234), (10, 10, 10)])
def test_marker_is_at_the_shown_frame(first, last, shown):
    image = draw_timeline([TimelineRow(1, {})], first, last, shown_frame=shown)
    columns = np.flatnonzero(np.all(image[:ROW_HEIGHT] == MARKER_COLOR, axis=-1).all(axis=0))
    assert columns.size >= 1
    frames = [frame_at(x, first, last) for x in columns]
    if last - first + 1 > WIDTH:  # the marker's column covers a few frames, the shown one among them
        assert frames[0] <= shown < frame_at(columns[0] + 1, first, last) or columns[0] == WIDTH - 1
    else:
        assert frames == [shown] * len(frames)


def test_no_marker_when_shown_frame_is_outside_the_window():
    image = draw_timeline([TimelineRow(1, {})], 600, 619, shown_frame=700)
    assert not np.all(image[:ROW_HEIGHT] == MARKER_COLOR, axis=-1).all(axis=0).any()


@pytest.mark.parametrize("first, last", [(600, 611), (0, 0), (5, 5 + WIDTH - 1), (0, 1)])
def test_frame_at_inverts_the_mapping_of_a_short_window(first, last):
    frames = _plot_frames(first, last)
    assert frames[0] == first and frames[-1] == last
    assert np.all(np.diff(frames) >= 0)
    assert set(frames) == set(range(first, last + 1))  # each frame owns a contiguous run of columns
    assert frame_at(WIDTH + 50, first, last) == last
    assert frame_at(0.7, first, last) == first


def test_every_column_is_a_frame_and_clicks_off_the_edges_clamp():
    """No label column: the first column is the window's first frame, the last its last."""
    assert frame_at(0, 600, 700) == 600 and frame_at(-3, 600, 700) == 600
    assert frame_at(WIDTH - 1, 600, 700) == 700


def test_rows_are_tinted_with_their_objects_colour():
    image = draw_timeline([TimelineRow(1, {}), TimelineRow(2, {})], 0, 9)
    first, second = image[ROW_HEIGHT // 2, WIDTH // 2], image[ROW_HEIGHT + ROW_HEIGHT // 2, WIDTH // 2]
    for background, obj_id in ((first, 1), (second, 2)):
        color = np.array(object_color(obj_id))
        assert np.argmax(background) == np.argmax(color) and background.max() < color.max()


def test_long_window_bins_frames_and_keeps_single_frame_objects():
    first, last = 600, 4199
    frames = _plot_frames(first, last)
    assert frames[0] == first and np.all(np.diff(frames) >= 1)
    for present in (first, 1834, 2500, last):
        heights = _bar_heights(draw_timeline([TimelineRow(2, {present: 9})], first, last), 0, 2)
        columns = np.flatnonzero(heights)
        assert columns.size == 1
        column = columns[0]
        assert frames[column] <= present and (column == len(frames) - 1 or present < frames[column + 1])


def test_binned_column_takes_the_largest_area_of_its_frames():
    first, last = 0, 3599
    frames = _plot_frames(first, last)
    column = 100
    covered = range(frames[column], frames[column + 1])
    areas = {covered[0]: 10, covered[-1]: 1000, 3000: 1000}
    heights = _bar_heights(draw_timeline([TimelineRow(1, areas)], first, last), 0, 1)
    assert heights[column] == heights.max()


def test_no_rows_is_still_an_image():
    image = draw_timeline([], 600, 700, shown_frame=650)
    assert image.shape == (ROW_HEIGHT + AXIS_HEIGHT, WIDTH, 3) and image.dtype == np.uint8


def test_bad_windows_are_rejected():
    with pytest.raises(ValueError, match="before"):
        draw_timeline([], 10, 9)
    with pytest.raises(ValueError, match="width"):
        frame_at(10, 0, 9, width=0)


def test_three_objects_over_3600_frames_draw_fast():
    rng = np.random.default_rng(0)
    rows = [TimelineRow(i, {f: int(rng.integers(1, 10_000)) for f in range(3600) if rng.random() < 0.8})
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
