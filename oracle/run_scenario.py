"""Play one scripted prompting session through a ``sam2`` package and record every output.

Run in a subprocess; PYTHONPATH decides which implementation ``import sam2`` finds:

    python run_scenario.py --impl reference --config configs/sam2.1/sam2.1_hiera_t.yaml \
        --checkpoint w.pt --scenario video_full --frames FRAMES_DIR --out out.npz

Only the official public API is touched (``build_sam2``, ``build_sam2_video_predictor``,
``SAM2ImagePredictor``), so the same script drives the reference and our package. Two
harness-only adjustments are applied to the reference (never to ours), each working around
a limitation of running it on CPU in fp32, documented in DESIGN.md section 6:

* its memory attention gets its ``memory``/``memory_pos`` inputs cast to float32 (it keeps
  memory features in bfloat16 and would otherwise crash when re-propagating in fp32);
* its image predictor's hard-coded backbone feature sizes are rescaled when
  ``--image-size`` is not 1024.

Output: an ``.npz`` with, for step ``i`` (zero-padded to 3 digits), ``stepNNN_label``,
``stepNNN_frame_idx``, ``stepNNN_obj_ids``, ``stepNNN_seconds`` and either
``stepNNN_logits`` (video predictor, float32 [objects, H, W] at video resolution) or
``stepNNN_masks`` (or ``stepNNN_mask_logits`` for ``return_logits=True``) /
``stepNNN_ious`` / ``stepNNN_low_res`` (image predictor), plus
``meta_*`` entries (``meta_package_dir`` says which ``sam2`` was imported). Scenarios are data (tables of operations) interpreted below.
``--device cuda`` runs both packages on a GPU (in strict fp32: TF32 is turned off).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

# --------------------------------------------------------------------------------------
# Scenario tables. Coordinates are fractions of the frame's width/height so that the same
# scenario works on any clip; frame indices may be negative (counted from the end).
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Click:
    frame: int
    obj: int
    points: tuple = ()  # ((fx, fy, label), ...) with label 1 = include, 0 = exclude
    box: tuple | None = None  # (fx0, fy0, fx1, fy1)
    clear_old_points: bool = True


@dataclass(frozen=True)
class AddMask:
    frame: int
    obj: int
    rect: tuple  # (fx0, fy0, fx1, fy1): a filled rectangle at video resolution


@dataclass(frozen=True)
class Propagate:
    start: int | None = None
    max_frames: int | None = None
    reverse: bool = False


@dataclass(frozen=True)
class RemoveObject:
    obj: int


@dataclass(frozen=True)
class ClearFrame:
    frame: int
    obj: int


@dataclass(frozen=True)
class Reset:
    pass


@dataclass(frozen=True)
class VideoScenario:
    ops: tuple


@dataclass(frozen=True)
class ImageScenario:
    pass


VIDEO_SCENARIOS = {
    # Every public editing call of the video predictor, in an order that exercises
    # re-propagation over existing memory, reverse tracking, late objects and removal.
    "video_full": VideoScenario(
        ops=(
            Click(frame=0, obj=1, points=((0.50, 0.55, 1),)),
            Click(frame=0, obj=2, box=(0.10, 0.20, 0.42, 0.75)),
            Click(frame=0, obj=2, points=((0.30, 0.60, 0),), clear_old_points=False),
            Propagate(),
            Click(frame=3, obj=1, points=((0.58, 0.50, 1), (0.40, 0.35, 0))),
            Propagate(),
            Propagate(start=-1, reverse=True),
            AddMask(frame=2, obj=3, rect=(0.60, 0.15, 0.90, 0.55)),
            Propagate(start=1, max_frames=3),
            RemoveObject(obj=2),
            Propagate(),
            ClearFrame(frame=3, obj=1),
            Reset(),
            Click(frame=1, obj=4, points=((0.45, 0.40, 1),)),
            Propagate(),
        )
    ),
    # Prompts only on a middle frame: forward to the end, then backwards to frame 0.
    "video_reverse": VideoScenario(
        ops=(
            Click(frame=-4, obj=1, points=((0.50, 0.50, 1),)),
            Click(frame=-4, obj=2, points=((0.25, 0.35, 1), (0.75, 0.70, 0))),
            Propagate(),
            Propagate(reverse=True),
        )
    ),
    # Plain two-object tracking (used for the SAM 2.0 configs). Single clicks: with the
    # random test weights, 2.0's single-mask output (used for multi-point prompts) is
    # almost all positive, while the multimask choice for one click has real content.
    "video_basic": VideoScenario(
        ops=(
            Click(frame=0, obj=1, points=((0.50, 0.55, 1),)),
            Click(frame=0, obj=2, points=((0.70, 0.30, 1),)),
            Propagate(),
        )
    ),
}

IMAGE_SCENARIOS = {"image": ImageScenario()}
# The automatic mask generator: settings (as keyword arguments) run in turn on the first still,
# scaled to AUTOMATIC_WIDTH pixels wide. The random weights give large blobs whose boxes
# overlap, so the default NMS would leave one mask: the first two settings keep every mask
# that passes the thresholds (NMS thresholds 1), the last keeps the defaults. Masks from the
# crops do not survive (their blobs touch the crop edges, on both sides): tests/
# test_automatic_mask_generator.py checks the crops' geometry and the edge rule.
AUTOMATIC_WIDTH = 320
AUTOMATIC_SETTINGS = {
    "grid": dict(points_per_side=12, pred_iou_thresh=0.5, stability_score_thresh=0.5, box_nms_thresh=1.0),
    "crops_m2m": dict(points_per_side=8, crop_n_layers=1, crop_n_points_downscale_factor=2, use_m2m=True,
                      pred_iou_thresh=0.3, stability_score_thresh=0.3, box_nms_thresh=1.0, crop_nms_thresh=1.0),
    "single_mask": dict(points_per_side=8, multimask_output=False, pred_iou_thresh=0.0,
                        stability_score_thresh=0.0, output_mode="uncompressed_rle"),
}
AUTOMATIC_SCENARIOS = {"automatic_masks"}
SCENARIOS = sorted([*VIDEO_SCENARIOS, *IMAGE_SCENARIOS, *AUTOMATIC_SCENARIOS])


# --------------------------------------------------------------------------------------
# Recording
# --------------------------------------------------------------------------------------


@dataclass
class Recorder:
    arrays: dict = field(default_factory=dict)
    count: int = 0
    last_time: float = field(default_factory=time.perf_counter)

    def add(self, label: str, frame_idx: int = -1, obj_ids=(), **outputs) -> None:
        now = time.perf_counter()
        prefix = f"step{self.count:03d}_"
        self.arrays[prefix + "label"] = np.array(label)
        self.arrays[prefix + "frame_idx"] = np.array(int(frame_idx), dtype=np.int64)
        self.arrays[prefix + "obj_ids"] = np.array([int(o) for o in obj_ids], dtype=np.int64)
        self.arrays[prefix + "seconds"] = np.array(now - self.last_time, dtype=np.float64)
        for name, value in outputs.items():
            self.arrays[prefix + name] = _to_numpy(value)
        self.count += 1
        self.last_time = now

    def save(self, path: Path, **meta) -> None:
        self.arrays["meta_num_steps"] = np.array(self.count, dtype=np.int64)
        for key, value in meta.items():
            self.arrays["meta_" + key] = np.array(value)
        np.savez(path, **self.arrays)


def _to_numpy(value) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        if value.is_floating_point():
            value = value.float()
        value = value.numpy()
    value = np.asarray(value)
    if value.dtype.kind == "f":
        value = value.astype(np.float32)
    return value


def _video_logits(masks) -> np.ndarray:
    """[objects, 1, H, W] mask logits -> float32 [objects, H, W]."""
    array = _to_numpy(masks)
    if array.ndim == 4:
        array = array[:, 0]
    return array


# --------------------------------------------------------------------------------------
# Harness-only fixes for the reference (see module docstring)
# --------------------------------------------------------------------------------------


def cast_memory_to_fp32(model) -> None:
    attention = model.memory_attention
    original = attention.forward

    def forward(*args, **kwargs):
        args = list(args)
        for position, name in ((1, "memory"), (3, "memory_pos")):
            if name in kwargs and kwargs[name] is not None:
                kwargs[name] = kwargs[name].float()
            elif len(args) > position and args[position] is not None:
                args[position] = args[position].float()
        return original(*args, **kwargs)

    attention.forward = forward


def _rescale_image_predictor_feats(predictor, image_size: int) -> None:
    if hasattr(predictor, "_bb_feat_sizes"):
        predictor._bb_feat_sizes = [(image_size // s, image_size // s) for s in (4, 8, 16)]


# --------------------------------------------------------------------------------------
# Scenario execution
# --------------------------------------------------------------------------------------


def _frame_index(frame: int, num_frames: int) -> int:
    return frame + num_frames if frame < 0 else frame


def _run_video(args, scenario: VideoScenario, overrides: list, rec: Recorder) -> dict:
    from sam2.build_sam import build_sam2_video_predictor

    predictor = build_sam2_video_predictor(
        args.config, args.checkpoint, device=args.device, hydra_overrides_extra=overrides
    )
    predictor.fill_hole_area = 0
    if args.impl == "reference":
        cast_memory_to_fp32(predictor)

    state = predictor.init_state(video_path=str(args.frames))
    num_frames = int(state["num_frames"])
    height, width = int(state["video_height"]), int(state["video_width"])
    rec.add("init_state")

    for op_index, op in enumerate(scenario.ops):
        tag = f"op{op_index:02d}:{type(op).__name__}"
        if isinstance(op, Click):
            frame = _frame_index(op.frame, num_frames)
            kwargs = {}
            if op.points:
                pts = np.array([[fx * width, fy * height] for fx, fy, _ in op.points], np.float32)
                kwargs["points"] = pts
                kwargs["labels"] = np.array([lab for _, _, lab in op.points], np.int32)
            if op.box is not None:
                fx0, fy0, fx1, fy1 = op.box
                kwargs["box"] = np.array([fx0 * width, fy0 * height, fx1 * width, fy1 * height], np.float32)
            out_frame, obj_ids, masks = predictor.add_new_points_or_box(
                inference_state=state,
                frame_idx=frame,
                obj_id=op.obj,
                clear_old_points=op.clear_old_points,
                **kwargs,
            )
            rec.add(tag, out_frame, obj_ids, logits=_video_logits(masks))
        elif isinstance(op, AddMask):
            frame = _frame_index(op.frame, num_frames)
            fx0, fy0, fx1, fy1 = op.rect
            mask = np.zeros((height, width), dtype=bool)
            mask[int(fy0 * height) : int(fy1 * height), int(fx0 * width) : int(fx1 * width)] = True
            out_frame, obj_ids, masks = predictor.add_new_mask(
                inference_state=state, frame_idx=frame, obj_id=op.obj, mask=mask
            )
            rec.add(tag, out_frame, obj_ids, logits=_video_logits(masks))
        elif isinstance(op, Propagate):
            start = None if op.start is None else _frame_index(op.start, num_frames)
            for out_frame, obj_ids, masks in predictor.propagate_in_video(
                state,
                start_frame_idx=start,
                max_frame_num_to_track=op.max_frames,
                reverse=op.reverse,
            ):
                rec.add(tag, out_frame, obj_ids, logits=_video_logits(masks))
        elif isinstance(op, RemoveObject):
            obj_ids, updated = predictor.remove_object(state, op.obj)
            rec.add(tag, -1, obj_ids)
            for out_frame, masks in updated:
                rec.add(tag + "/updated", out_frame, obj_ids, logits=_video_logits(masks))
        elif isinstance(op, ClearFrame):
            frame = _frame_index(op.frame, num_frames)
            out_frame, obj_ids, masks = predictor.clear_all_prompts_in_frame(state, frame, op.obj)
            rec.add(tag, out_frame, obj_ids, logits=_video_logits(masks))
        elif isinstance(op, Reset):
            predictor.reset_state(state)
            rec.add(tag)
        else:  # pragma: no cover - table typo
            raise TypeError(f"unknown scenario operation {op!r}")
    return {"num_frames": num_frames, "video_height": height, "video_width": width}


def _load_rgb(path: Path) -> np.ndarray:
    return np.array(Image.open(path).convert("RGB"))


def _run_image(args, overrides: list, rec: Recorder) -> dict:
    from sam2.build_sam import build_sam2
    from sam2.sam2_image_predictor import SAM2ImagePredictor

    model = build_sam2(args.config, args.checkpoint, device=args.device, hydra_overrides_extra=overrides)
    predictor = SAM2ImagePredictor(model)
    if args.impl == "reference" and args.image_size:
        _rescale_image_predictor_feats(predictor, args.image_size)

    frames = sorted(Path(args.frames).glob("*.jpg"))
    first, last = _load_rgb(frames[0]), _load_rgb(frames[-1])
    height, width = first.shape[:2]

    def px(points):
        return np.array([[fx * width, fy * height] for fx, fy in points], dtype=np.float32)

    def record(label, result, logits=False):
        masks, ious, low_res = result
        if logits:
            outputs = {"mask_logits": masks}
        else:  # 0/1 masks: stored as booleans (4x smaller), compared as such
            outputs = {"masks": _to_numpy(masks) > 0.5}
        outputs.update(ious=ious, low_res=low_res)
        rec.add(label, **outputs)
        return masks, ious, low_res

    predictor.set_image(first)
    rec.add("set_image")
    _, ious, low_res = record(
        "predict/point_multimask",
        predictor.predict(
            point_coords=px([(0.5, 0.55)]), point_labels=np.array([1]), multimask_output=True
        ),
    )
    record(
        "predict/points_box_single",
        predictor.predict(
            point_coords=px([(0.30, 0.45), (0.20, 0.65)]),
            point_labels=np.array([1, 0]),
            box=np.array([0.10 * width, 0.20 * height, 0.45 * width, 0.80 * height], np.float32),
            multimask_output=False,
        ),
    )
    best = int(np.argmax(ious))
    record(
        "predict/mask_input",
        predictor.predict(
            point_coords=px([(0.5, 0.55)]),
            point_labels=np.array([1]),
            mask_input=low_res[best : best + 1],
            multimask_output=False,
        ),
    )
    record(
        "predict/return_logits",
        predictor.predict(
            point_coords=px([(0.65, 0.35)]),
            point_labels=np.array([1]),
            multimask_output=True,
            return_logits=True,
        ),
        logits=True,
    )
    record(
        "predict/normalized_coords",
        predictor.predict(
            point_coords=np.array([[0.4, 0.5]], np.float32),
            point_labels=np.array([1]),
            multimask_output=False,
            normalize_coords=False,
        ),
    )

    predictor.set_image_batch([first, last])
    rec.add("set_image_batch")
    masks_b, ious_b, low_res_b = predictor.predict_batch(
        point_coords_batch=[px([(0.5, 0.55)]), px([(0.35, 0.40), (0.7, 0.6)])],
        point_labels_batch=[np.array([1]), np.array([1, 0])],
        multimask_output=True,
    )
    for i, result in enumerate(zip(masks_b, ious_b, low_res_b)):
        record(f"predict_batch/image{i}", result)
    return {"video_height": height, "video_width": width}


def _column_runs_to_mask(rle: dict) -> np.ndarray:
    """COCO's uncompressed RLE (runs over column-major pixels, zeros first) -> (H, W) bool."""
    height, width = rle["size"]
    flat, position = np.zeros(height * width, dtype=bool), 0
    for index, run in enumerate(rle["counts"]):
        flat[position:position + run] = index % 2 == 1
        position += run
    return flat.reshape(width, height).T


def _run_automatic(args, overrides: list, rec: Recorder) -> dict:
    from sam2.automatic_mask_generator import SAM2AutomaticMaskGenerator
    from sam2.build_sam import build_sam2

    model = build_sam2(args.config, args.checkpoint, device=args.device, hydra_overrides_extra=overrides)
    still = Image.open(sorted(Path(args.frames).glob("*.jpg"))[0]).convert("RGB")
    still = np.array(still.resize((AUTOMATIC_WIDTH, round(still.height * AUTOMATIC_WIDTH / still.width))))
    for label, settings in AUTOMATIC_SETTINGS.items():
        generator = SAM2AutomaticMaskGenerator(model, **settings)
        if args.impl == "reference" and args.image_size:
            _rescale_image_predictor_feats(generator.predictor, args.image_size)
        records = generator.generate(still)
        masks = [r["segmentation"] for r in records]
        if settings.get("output_mode") == "uncompressed_rle":
            masks = [_column_runs_to_mask(m) for m in masks]
        rec.add(f"automatic/{label}", masks=np.array(masks, dtype=bool).reshape(-1, *still.shape[:2]),
                ious=[r["predicted_iou"] for r in records], stability=[r["stability_score"] for r in records])
    return {"video_height": still.shape[0], "video_width": still.shape[1]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--impl", choices=("reference", "ours"), required=True)
    parser.add_argument("--config", required=True)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--scenario", choices=SCENARIOS, required=True)
    parser.add_argument("--frames", required=True, help="folder of 00000.jpg, 00001.jpg, ...")
    parser.add_argument("--out", required=True)
    parser.add_argument("--image-size", type=int, default=None)
    parser.add_argument("--device", default="cpu", help="torch device both packages run on (cpu, cuda)")
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    torch.set_num_threads(2)
    # Strict fp32 on GPUs: cuDNN would otherwise run convolutions in TF32 (10-bit mantissa).
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    overrides = [] if args.image_size is None else [f"++model.image_size={args.image_size}"]

    import sam2  # whichever package PYTHONPATH selected; recorded so tests can check it

    rec = Recorder()
    started = time.perf_counter()
    with torch.inference_mode():
        if args.scenario in VIDEO_SCENARIOS:
            meta = _run_video(args, VIDEO_SCENARIOS[args.scenario], overrides, rec)
        elif args.scenario in AUTOMATIC_SCENARIOS:
            meta = _run_automatic(args, overrides, rec)
        else:
            meta = _run_image(args, overrides, rec)
    total = time.perf_counter() - started
    rec.save(
        Path(args.out),
        impl=args.impl,
        scenario=args.scenario,
        config=args.config,
        device=args.device,
        total_seconds=total,
        package_dir=str(Path(sam2.__file__).resolve().parent),
        **meta,
    )
    print(f"{args.impl} {args.scenario}: {rec.count} steps in {total:.1f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
