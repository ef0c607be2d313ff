"""What crosses the process boundary on ZeroGPU, per click and per tracked frame.

    python -m bench.zerogpu_crossing                  # hiera-t 2.1 random weights, dog.mp4 (720p), 2 objects
    python -m bench.zerogpu_crossing --frames 20 --video my.mp4

Runs the app's handlers with every model call under the strict ZeroGPU stand-in
(oracle/zerogpu_standin: a process forked per call, arguments and results pickled both ways)
and prints, per call, the bytes pickled in each direction and the seconds spent pickling and
unpickling them (not the fork, nor the model's own time). Tracking runs on one CPU thread in
the forked workers, as it would on ZeroGPU where the GPU does the work.
"""

import argparse
import os
import statistics

from bench.media import random_checkpoint
from oracle.paths import SHARED_DATA
from oracle.zerogpu import load_standin
from sam2.runtime.cpu_allocator import tune_for_cpu_tracking
from tracker.model import gpu
from tracker.actions import opening, prompting, roster, showing, tracking
from tracker.model.calls import ModelCalls
from tracker.model.loading import EngineCache
from tracker.settings import AppSettings


def kib(count: float) -> str:
    return f"{count / 1024:9.1f} KiB"


def describe(label: str, crossing) -> str:
    returned = sum(crossing.result_bytes)
    seconds = crossing.argument_seconds + sum(crossing.result_seconds)
    return f"{label:<34} in {kib(crossing.argument_bytes)}  out {kib(returned)}  {seconds * 1000:8.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", default=str(SHARED_DATA / "dog.mp4"))
    parser.add_argument("--config", default="sam2.1_hiera_t")
    parser.add_argument("--checkpoint", help="weights (default: seeded random weights)")
    parser.add_argument("--frames", type=int, default=8, help="frames to track")
    args = parser.parse_args()
    checkpoint = args.checkpoint or str(random_checkpoint(args.config))

    tune_for_cpu_tracking()  # as the app does on the CPU; the forked workers inherit it
    standin = load_standin()
    gpu.spaces = standin
    os.environ["SPACES_ZERO_GPU"] = "true"
    settings = AppSettings.from_sources(["--checkpoint", checkpoint, "--config", args.config, "--device", "cpu"], {})
    calls = ModelCalls(EngineCache(settings))

    session = opening.open_video(calls, args.video)
    engine = calls.engine(session.model)
    height, width = session.video.size
    prompting.click(calls, session, width / 2, height / 2, prompting.INCLUDE)
    roster.add_object(session)
    prompting.click(calls, session, width / 4, height / 3, prompting.INCLUDE)
    before = len(standin.CALLS)
    for update in tracking.track(calls, session):
        if update.done == args.frames:
            tracking.request_stop(session)
    track_calls = standin.CALLS[before:]
    showing.show(session, args.frames // 2)
    prompting.click(calls, session, width / 3, height / 2, prompting.EXCLUDE)
    session.close()

    crossings = standin.CALLS
    print(f"video {args.video} ({width}x{height}), {args.config} at {engine.predictor.image_size} px, "
          f"{engine.precision_name}, 2 objects, {args.frames} frames tracked")
    print(describe("open video", crossings[0]))
    print(describe("click (object 1, frame 0)", crossings[1]))
    print(describe("click (object 2, frame 0)", crossings[2]))
    print(describe(f"click after tracking (frame {args.frames // 2})", crossings[-1]))
    for call in track_calls:
        frames = call.result_bytes[:-1]  # the last item is the state
        print(describe(f"track call ({len(frames)} frames, state at end)", call))
        print(f"  per tracked frame: median {kib(statistics.median(frames))}, "
              f"{statistics.median(call.result_seconds[:-1]) * 1000:.2f} ms; state in {kib(call.argument_bytes)}, "
              f"state out {kib(call.result_bytes[-1])} ({call.result_seconds[-1] * 1000:.1f} ms): the state grows "
              f"{kib((call.result_bytes[-1] - call.argument_bytes) / len(frames))} per tracked frame")


if __name__ == "__main__":
    main()
