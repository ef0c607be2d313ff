"""Track's progress: frames counted once, the share done by the model's steps, the speed
measured over the last steps only."""

from tracker.model.calls import TrackRun
from tracker.actions.track_progress import FRAMES_BEFORE_SPEED, SPEED_WINDOW, FrameCounter, SpeedMeter


def yield_all(counter: FrameCounter, frames) -> FrameCounter:
    for frame_idx in frames:
        counter.add(frame_idx)
    return counter


def test_a_prompt_in_the_middle_counts_each_frame_of_the_window_once():
    """A 20-frame window prompted on frame 10: forward 10-19, then back 10-0 (the old count said 21 of 21)."""
    counter = FrameCounter([TrackRun(10, False, 10), TrackRun(10, True, 11)])
    assert (counter.total, counter.steps_total) == (20, 21)
    yield_all(counter, range(10, 20))
    assert (counter.done, counter.percent) == (10, 47)
    yield_all(counter, range(10, -1, -1))
    assert (counter.done, counter.percent, counter.steps_left) == (20, 100, 0)


def test_frames_tracked_again_for_a_later_first_prompt_move_the_share_not_the_count():
    """Object 2 first prompted on frame 5 of 0-9: forward 0-9, then back from 5 over 5-0 again."""
    counter = yield_all(FrameCounter([TrackRun(0, False, 10), TrackRun(5, True, 6)]), range(10))
    assert (counter.done, counter.total, counter.percent) == (10, 10, 62)
    yield_all(counter, range(5, -1, -1))
    assert (counter.done, counter.total, counter.percent) == (10, 10, 100)


def test_a_run_names_its_frames_in_the_order_they_come_and_its_chunks_cover_them():
    assert list(TrackRun(3, True, 4).frames) == [3, 2, 1, 0]
    assert list(TrackRun(3, False, 4).frames) == [3, 4, 5, 6]
    for run in (TrackRun(10, False, 10), TrackRun(10, True, 11)):
        assert [f for chunk in run.chunks(3) for f in chunk.frames] == list(run.frames)


def test_chunked_runs_count_the_same():
    runs = [TrackRun(10, False, 10), TrackRun(10, True, 11)]
    chunked = FrameCounter([chunk for run in runs for chunk in run.chunks(3)])
    assert (chunked.total, chunked.steps_total) == (20, 21)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_speed_waits_for_a_few_frames_then_follows_the_recent_ones():
    clock = Clock()
    meter = SpeedMeter(clock)
    meter.add(1)  # the prompted frame: at hand, no tracking
    for steps in range(2, FRAMES_BEFORE_SPEED + 1):
        clock.now += 2.0
        meter.add(steps)
        assert meter.frames_per_second is None
    clock.now += 2.0
    meter.add(FRAMES_BEFORE_SPEED + 1)
    assert meter.frames_per_second == 0.5
    steps = FRAMES_BEFORE_SPEED + 1
    for _ in range(SPEED_WINDOW):  # the machine gets faster: the estimate follows within the window
        clock.now += 0.25
        steps += 1
        meter.add(steps)
    assert meter.frames_per_second == 4.0
