"""J, F and J&F of predicted masks against ground truth, with the official evaluator's flags.

    python sav_dataset/sav_evaluator.py --gt_root GT --pred_root PRED [-n 16] [-s] [-q]
        [--do_not_skip_first_and_last_frame]

GT and PRED share one layout: SA-V (``<video>/<object>/<frame>.png``, binary) or DAVIS
(``<video>/<frame>.png``, indexed). Writes ``results.csv`` (the official per-object file) and
``results_per_video.csv`` into PRED and prints the scores per object, per video and overall.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from vos.evaluation import LayoutMismatch, NothingToScore, evaluate, score_table  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gt_root", required=True, help="ground-truth masks (e.g. sav_val/Annotations_6fps)")
    parser.add_argument("--pred_root", required=True, help="predicted masks, in the layout of --gt_root")
    parser.add_argument("-n", "--num_processes", type=int, default=16, help="worker processes")
    parser.add_argument("-s", "--strict", action="store_true", help="every ground-truth video must have predictions")
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    parser.add_argument(
        "--do_not_skip_first_and_last_frame", action="store_true",
        help="score the first and last annotated frames too (SA-V val/test and DAVIS skip them)",
    )
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        report = evaluate(Path(args.gt_root), Path(args.pred_root), args.strict, args.num_processes,
                          skip_first_and_last=not args.do_not_skip_first_and_last_frame)
    except (LayoutMismatch, NothingToScore, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if not report.videos:
        print(f"error: no video of {args.gt_root} has predictions in {args.pred_root}", file=sys.stderr)
        return 1
    pred_root = Path(args.pred_root)
    (pred_root / "results.csv").write_text(report.object_csv())
    (pred_root / "results_per_video.csv").write_text(report.video_csv())
    if report.unscored:
        print(f"warning: nothing to score in {len(report.unscored)} video(s), left out: "
              f"{', '.join(report.unscored)}", file=sys.stderr)
    if not args.quiet:
        print(f"{'video':<24} {'object':>8} {'J&F':>6} {'J':>6} {'F':>6}")
        for video, obj, score in score_table(report):
            print(f"{video:<24} {obj:>8} {score.jf:6.1f} {score.j:6.1f} {score.f:6.1f}")
        print(f"saved {pred_root / 'results.csv'} and {pred_root / 'results_per_video.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
