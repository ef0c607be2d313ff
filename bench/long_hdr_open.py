"""Opening a long HDR video in the app: time to the first clickable frame, and what a click far
into it decodes.

    python -m bench.long_hdr_open [--seconds 60] [--frame 1500]

Makes (once, in .cache/bench) a 1080p 10-bit HEVC clip in BT.2020 with the PQ transfer at 30 fps,
opens it with the app's handlers (probe, decoder, tone mapping, frame 0 encoded, the viewer's
picture), moves the window over ``--frame`` and clicks there. Prints seconds, the frames the
app's decoder produced for the click, and the process's peak memory.
"""

import argparse
import subprocess
import time
from pathlib import Path

from bench.media import CACHE
from oracle.metrics import peak_resident_mb
from oracle.paths import REPO
from sam2.runtime.cpu_allocator import tune_for_cpu_tracking
from sam2.assembly.random_weights import save_random_checkpoint
from tracker.actions import opening, prompting, showing
from tracker.model.calls import ModelCalls
from tracker.model.loading import EngineCache
from tracker.settings import AppSettings
from tracker.media.video_io import FFMPEG
from tracker.sessions.window import FRAMES


def hdr_clip(seconds: int) -> Path:
    """A 1080p 30 fps PQ HEVC clip of ``seconds`` (x265 ultrafast, a keyframe every 2 s)."""
    path = CACHE / f"hdr_pq_1080p_{seconds}s.mp4"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([FFMPEG, "-hide_banner", "-nostdin", "-v", "error", "-y", "-f", "lavfi",
                        "-i", f"testsrc2=size=1920x1080:rate=30:duration={seconds}",
                        "-vf", "format=gbrp,zscale=tin=bt709:pin=bt709:t=smpte2084:p=bt2020:m=bt2020nc:r=tv:npl=203,"
                               "format=yuv420p10le",
                        "-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error:keyint=60",
                        "-color_primaries", "bt2020", "-color_trc", "smpte2084", "-colorspace", "bt2020nc",
                        str(path)], check=True)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--frame", type=int, default=1500)
    parser.add_argument("--config", default="sam2.1_hiera_t")
    args = parser.parse_args()
    tune_for_cpu_tracking()  # as the app does on the CPU
    video = hdr_clip(args.seconds)
    checkpoint = CACHE / f"{args.config}_random.pt"
    if not checkpoint.exists():
        save_random_checkpoint(args.config, str(checkpoint))
    settings = AppSettings.from_sources(["--checkpoint", str(checkpoint), "--config", args.config, "--device", "cpu"],
                                        {})
    calls = ModelCalls(EngineCache(settings))
    calls.engine()  # loaded before the page serves, as in the app

    started = time.perf_counter()
    session = opening.open_video(calls, str(video))
    first = showing.show(session, 0)
    opened = time.perf_counter() - started
    print(f"{video.relative_to(REPO)}: {session.video.width}x{session.video.height}, {session.video.num_frames} frames;"
          f" notices: {' / '.join(session.video.notices)}")
    print(f"open -> first clickable frame {first.frame_idx} on screen: {opened:.2f} s at "
          f"{calls.engine(session.model).predictor.image_size} px")

    opening.set_window(session, args.frame - 100, args.frame + 100, FRAMES)
    readers = list({id(source): source for source in (session.frames, session.state.images)}.values())
    decoded_before = sum(reader.frames_decoded for reader in readers)
    started = time.perf_counter()
    showing.show(session, args.frame)
    prompting.click(calls, session, session.video.width / 2, session.video.height / 2, prompting.INCLUDE)
    clicked = time.perf_counter() - started
    decoded = sum(reader.frames_decoded for reader in readers) - decoded_before
    print(f"show and click frame {args.frame}: {clicked:.2f} s, {decoded} frames decoded "
          f"(from the keyframe before it; the app's reader and the model's), "
          f"peak RSS {peak_resident_mb():.0f} MB")
    session.close()


if __name__ == "__main__":
    main()
