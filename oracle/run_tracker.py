"""Track one object through a clip with a tracking policy and record its masks frame by frame.

Run in a subprocess; PYTHONPATH decides which ``sam2`` package is imported:

    python run_tracker.py --impl samurai --config configs/samurai/sam2.1_hiera_t.yaml \
        --checkpoint w.pt --frames CLIP_DIR --box 40 90 100 150 --out out.npz

* ``--impl ours`` runs this checkout's package with ``init_state(..., tracker=--tracker)``;
* ``--impl samurai`` runs SAMURAI's fork (its policy is switched on by its config file);
* ``--impl dam4sam`` runs DAM4SAM's frame-by-frame tracker (``dam4sam_tracker.DAM4SAMTracker``:
  ``initialize`` on frame 0 with the box as (x, y, w, h), then ``track`` per frame), and
  ``--impl ours-dam4sam`` ours of the same API (``sam2.dam4sam_tracker``);
* ``--impl sam2long`` runs SAM2Long's fork: its settings are written into the state after
  ``init_state`` (``--pathways``, ``--iou-threshold``, ``--uncertainty``) and its
  ``propagate_in_video`` returns the masks of the best pathway once the video is done.

The video predictors use the official API: ``build_sam2_video_predictor``, ``init_state``,
``add_new_points_or_box`` (a box, or one click with ``--click``) on frame 0 for object 1,
``propagate_in_video`` forward. The harness-only fixes of the official code are those of
``implementations.py`` (memory cast to fp32 for attention, hole filling off on both sides).

Output: ``logits`` float16 (frames, H, W) at video resolution, ``frames`` (frames,) and
``meta_*`` entries.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from oracle import implementations

IMPLEMENTATIONS = ("ours", "samurai", "dam4sam", "ours-dam4sam", "sam2long")
FRAME_TRACKERS = ("dam4sam", "ours-dam4sam")


def build(args):
    overrides = [f"++model.image_size={args.image_size}"]
    from sam2.build_sam import build_sam2_video_predictor

    if args.impl == "ours":
        return build_sam2_video_predictor(args.config, args.checkpoint, device="cpu", hydra_overrides_extra=overrides)
    if args.impl == "sam2long":
        implementations.frame_tokens_follow_image_size(args.image_size)
    predictor = build_sam2_video_predictor(args.config, args.checkpoint, device="cpu", hydra_overrides_extra=overrides)
    implementations.cast_memory_to_fp32(predictor)
    return predictor


def track(predictor, frames: str, box=None, click=None, tracker=None, state_settings=None, pathways=None):
    """Prompt object 1 on frame 0 with ``box`` or ``click`` and track forward (a session with
    ``tracker`` when given: ours only; ``state_settings`` written into the state: SAM2Long's)
    -> (frame indices, (frames, H, W) float16 logits). A ``pathways`` list gets SAM2Long's
    pathways of every frame from the second tracked one on (see ``pathway_record``)."""
    with torch.inference_mode():
        state = predictor.init_state(frames) if tracker is None else predictor.init_state(frames, tracker=tracker)
        for key, value in (state_settings or {}).items():
            state[key] = value
        if pathways is not None and not state_settings:
            log_our_pathways(state, pathways)
        if box is not None:
            predictor.add_new_points_or_box(state, frame_idx=0, obj_id=1, box=np.array(box, dtype=np.float32))
        else:
            predictor.add_new_points_or_box(state, frame_idx=0, obj_id=1, points=np.array([click], np.float32),
                                            labels=np.array([1], np.int32))
        if state_settings:
            _, masks = predictor.propagate_in_video(state)
            if pathways is not None:
                pathways += official_pathways(state)
            frames_done = range(len(masks))
            return np.array(frames_done), np.stack([m[0, 0].float().cpu().numpy().astype(np.float16) for m in masks])
        latest = {}  # a frame yielded again (SAM2Long's revised lineage) keeps its last masks
        for frame_idx, _, masks in predictor.propagate_in_video(state):
            latest[frame_idx] = masks[0, 0].float().cpu().numpy().astype(np.float16)
    indices = sorted(latest)
    return np.array(indices), np.stack([latest[i] for i in indices])


def pathway_record(frame_idx: int, masks, ious, scores) -> tuple:
    """One frame's SAM2Long pathways, in their order there (best first): (frame index,
    (P, h, w) bool low-resolution masks, (P,) predicted IoUs, (P,) running scores)."""
    return frame_idx, np.stack([np.asarray(m) > 0 for m in masks]), np.array(ious, np.float64), np.array(scores)


def official_pathways(state) -> list:
    """SAM2Long's pathways per frame as its state keeps them (a last axis of P columns)."""
    records = []
    for frame_idx, out in sorted(state["output_dict"]["non_cond_frame_outputs"].items()):
        masks = out["pred_masks"]
        if masks.shape[-1] < 2:  # the first tracked frame: one column
            continue
        columns = range(masks.shape[-1])
        records.append(pathway_record(
            frame_idx, [masks[0, 0, ..., k].float().numpy() for k in columns],
            [float(out["ious"].flatten()[k]) for k in columns], list(out["acc_score"])))
    return records


def log_our_pathways(state, records: list) -> None:
    """Append our first object's pathways to ``records`` after each tracking step."""
    policy = state.tracker
    step = policy.track

    def logged(*args, **kwargs):
        out = step(*args, **kwargs)
        paths = state.objects[0].tracker_state.pathways
        if len({id(p.tip) for p in paths}) > 1 or paths[0].tip.parent is not None:
            records.append(pathway_record(
                paths[0].tip.frame_idx, [p.tip.output.pred_masks[0, 0].float().numpy() for p in paths],
                [float(p.tip.output.iou_score) for p in paths], [p.score for p in paths]))
        return out

    policy.track = logged


def dam4sam_on_cpu(checkpoint: str, image_size: int):
    """DAM4SAM's tracker class, stood on the CPU at ``image_size``: its code asks for CUDA by
    name (the builder's device, the state's devices) and moves memories with ``.cuda()``, and
    finds its checkpoint by a fixed path; the class is otherwise run as it is."""
    import types

    import dam4sam_tracker

    cpu = torch.device("cpu")
    torch.Tensor.cuda = lambda self, *args, **kwargs: self
    shim = types.ModuleType("torch")
    shim.__dict__.update(torch.__dict__)
    shim.device = lambda *args, **kwargs: cpu
    dam4sam_tracker.torch = shim
    dam4sam_tracker.determine_tracker = lambda name: (checkpoint, "sam21pp_hiera_t.yaml")
    build = dam4sam_tracker.build_sam2_video_predictor

    def build_on_cpu(config, ckpt, device=None, **kwargs):
        predictor = build(config, ckpt, device="cpu", hydra_overrides_extra=[f"++model.image_size={image_size}"])
        implementations.cast_memory_to_fp32(predictor)
        return predictor

    dam4sam_tracker.build_sam2_video_predictor = build_on_cpu

    def make():
        tracker = dam4sam_tracker.DAM4SAMTracker("sam21pp-T")
        tracker.input_image_size = image_size
        return tracker

    return make


def track_frame_by_frame(tracker, frames: str, box) -> tuple:
    """``initialize`` on frame 0 with ``box`` (x0, y0, x1, y1 -> x, y, w, h), then ``track``
    each frame -> (frame indices, (frames, H, W) float16 masks as +-1 logits)."""
    from PIL import Image

    paths = sorted(Path(frames).glob("*.jpg"))
    x0, y0, x1, y1 = box
    masks = [tracker.initialize(Image.open(paths[0]).convert("RGB"), None, bbox=[x0, y0, x1 - x0, y1 - y0])["pred_mask"]]
    for path in paths[1:]:
        masks.append(tracker.track(Image.open(path).convert("RGB"))["pred_mask"])
    return np.arange(len(paths)), np.stack([np.where(m > 0, 1.0, -1.0) for m in masks]).astype(np.float16)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--impl", required=True, choices=IMPLEMENTATIONS)
    parser.add_argument("--config", required=True)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--frames", required=True, help="folder of 00000.jpg, 00001.jpg, ...")
    parser.add_argument("--box", type=float, nargs=4, help="x0 y0 x1 y1 on frame 0 (video pixels)")
    parser.add_argument("--click", type=float, nargs=2, help="x y of one include click on frame 0")
    parser.add_argument("--tracker", default="sam2", help="ours only: the session's tracker")
    parser.add_argument("--image-size", type=int, default=512)
    parser.add_argument("--pathways", type=int, default=3, help="SAM2Long's num_pathway (both sides)")
    parser.add_argument("--iou-threshold", type=float, default=0.1, help="SAM2Long's iou_thre (both sides)")
    parser.add_argument("--uncertainty", type=float, default=2.0, help="SAM2Long's uncertainty (both sides)")
    parser.add_argument("--pathway-log", action="store_true", help="SAM2Long: also record every frame's pathways")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    if (args.box is None) == (args.click is None):
        parser.error("give exactly one of --box and --click")

    torch.manual_seed(0)
    if args.impl in FRAME_TRACKERS:
        if args.box is None:
            parser.error("the frame-by-frame trackers start from a --box")
        if args.impl == "dam4sam":
            tracker = dam4sam_on_cpu(args.checkpoint, args.image_size)()
        else:
            from sam2.dam4sam_tracker import DAM4SAMTracker

            tracker = DAM4SAMTracker("sam21pp-T", args.checkpoint, device="cpu",
                                     hydra_overrides_extra=[f"++model.image_size={args.image_size}"])
        with torch.inference_mode():
            frames, logits = track_frame_by_frame(tracker, args.frames, args.box)
    else:
        predictor = build(args)
        predictor.fill_hole_area = 0
        settings = None
        if args.impl == "sam2long":
            settings = {"num_pathway": args.pathways, "iou_thre": args.iou_threshold, "uncertainty": args.uncertainty}
        tracker = None
        if args.impl == "ours":
            tracker = args.tracker
            if tracker == "sam2long":
                from sam2.tracking import Sam2LongSettings

                tracker = Sam2LongSettings(args.pathways, args.iou_threshold, args.uncertainty)
        pathways = [] if args.pathway_log else None
        frames, logits = track(predictor, args.frames, args.box, args.click, tracker, settings, pathways)
    logs = {}
    if args.pathway_log:
        logs = {"pathway_frames": np.array([r[0] for r in pathways]),
                "pathway_masks": np.stack([r[1] for r in pathways]),
                "pathway_ious": np.stack([r[2] for r in pathways]),
                "pathway_scores": np.stack([r[3] for r in pathways])}
    np.savez_compressed(
        args.out, frames=frames, logits=logits, **logs,
        meta_impl=np.array(args.impl), meta_tracker=np.array(args.tracker),
        meta_package_dir=np.array(str(Path(sys.modules["sam2"].__file__).resolve().parent)),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
