"""Play one scripted prompting session through one implementation and record every output.

Run in a subprocess; PYTHONPATH decides which package the implementation imports:

    python run_scenario.py --impl reference --config configs/sam2.1/sam2.1_hiera_t.yaml \
        --checkpoint w.pt --scenario video_full --frames FRAMES_DIR --out out.npz

Each implementation is driven through its own official public API (``build_sam2``,
``build_sam2_video_predictor``, ``SAM2ImagePredictor``; EfficientTAM's
``build_efficienttam``, ``build_efficienttam_video_predictor``,
``EfficientTAMImagePredictor``), so the same script drives the official codes and ours. The
harness-only fixes the official codes need on a CPU in fp32 are in ``implementations.py``
(DESIGN.md section 6); ours runs untouched. Scenarios are tables in ``scenarios.py``.

``--only-object K`` plays a video scenario for object K alone, in a session of its own
(``scenarios.plan_for_object``); steps keep the labels of the full scenario, so
``compare.compare_per_object`` can match them with a run of all objects together.

Output: an ``.npz`` with, for step ``i`` (zero-padded to 3 digits), ``stepNNN_label``,
``stepNNN_frame_idx``, ``stepNNN_obj_ids``, ``stepNNN_seconds`` and either
``stepNNN_logits`` (video predictor, float32 [objects, H, W] at video resolution) or
``stepNNN_masks`` (or ``stepNNN_mask_logits`` for ``return_logits=True``) /
``stepNNN_ious`` / ``stepNNN_low_res`` (image predictor), plus ``meta_*`` entries
(``meta_package_dir`` says which package was imported, ``meta_model_image_size`` the input
size the model was built with, ``meta_only_object`` K or -1).
``--device cuda`` runs on a GPU (in strict fp32: TF32 is turned off).
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

# This checkout's `oracle`: PYTHONPATH holds the package under test, then the checkout
# (reference_env.with_checkout_after), so `sam2` stays theirs.
from oracle import implementations
from oracle.scenarios import (
    AUTOMATIC_SCENARIOS, AUTOMATIC_SETTINGS, AUTOMATIC_WIDTH, SCENARIOS,
    VIDEO_SCENARIOS, AddMask, ClearFrame, Click, Propagate, RemoveObject, Reset, frame_index,
    full_plan, op_label, plan_for_object,
)

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
# Scenario execution
# --------------------------------------------------------------------------------------


def _video_plan(impl, scenario, only_object, num_frames):
    if only_object is None:
        if impl.legacy_predictor:
            raise SystemExit(f"{impl.name} tracks one object per session: pass --only-object")
        return full_plan(scenario)
    return plan_for_object(scenario, only_object, num_frames, stop_at_correction=impl.legacy_predictor)


def _run_video(predictor, impl, args, only_object: int | None, rec: Recorder) -> dict:
    state = predictor.init_state(video_path=str(args.frames))
    num_frames = int(state["num_frames"])
    height, width = int(state["video_height"]), int(state["video_width"])
    rec.add("init_state")

    for planned in _video_plan(impl, VIDEO_SCENARIOS[args.scenario], only_object, num_frames):
        op, tag = planned.op, op_label(planned.index, planned.op)
        if isinstance(op, Click):
            frame = frame_index(op.frame, num_frames)
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
            frame = frame_index(op.frame, num_frames)
            fx0, fy0, fx1, fy1 = op.rect
            mask = np.zeros((height, width), dtype=bool)
            mask[int(fy0 * height) : int(fy1 * height), int(fx0 * width) : int(fx1 * width)] = True
            out_frame, obj_ids, masks = predictor.add_new_mask(
                inference_state=state, frame_idx=frame, obj_id=op.obj, mask=mask
            )
            rec.add(tag, out_frame, obj_ids, logits=_video_logits(masks))
        elif isinstance(op, Propagate):
            start = None if op.start is None else frame_index(op.start, num_frames)
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
            frame = frame_index(op.frame, num_frames)
            out_frame, obj_ids, masks = predictor.clear_all_prompts_in_frame(state, frame, op.obj)
            rec.add(tag, out_frame, obj_ids, logits=_video_logits(masks))
        elif isinstance(op, Reset):
            predictor.reset_state(state)
            rec.add(tag)
        else:  # pragma: no cover - table typo
            raise TypeError(f"unknown scenario operation {op!r}")
    return {"num_frames": num_frames, "video_height": height, "video_width": width,
            "model_image_size": int(predictor.image_size)}


def _load_rgb(path: Path) -> np.ndarray:
    return np.array(Image.open(path).convert("RGB"))


def _run_image(model, impl, args, rec: Recorder) -> dict:
    predictor = impl.image_predictor(model)
    impl.prepare_image_predictor(predictor, args.image_size)

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
    return {"video_height": height, "video_width": width, "model_image_size": int(model.image_size)}


def _column_runs_to_mask(rle: dict) -> np.ndarray:
    """COCO's uncompressed RLE (runs over column-major pixels, zeros first) -> (H, W) bool."""
    height, width = rle["size"]
    flat, position = np.zeros(height * width, dtype=bool), 0
    for index, run in enumerate(rle["counts"]):
        flat[position:position + run] = index % 2 == 1
        position += run
    return flat.reshape(width, height).T


def _run_automatic(model, impl, args, rec: Recorder) -> dict:
    from sam2.automatic_mask_generator import SAM2AutomaticMaskGenerator

    still = Image.open(sorted(Path(args.frames).glob("*.jpg"))[0]).convert("RGB")
    still = np.array(still.resize((AUTOMATIC_WIDTH, round(still.height * AUTOMATIC_WIDTH / still.width))))
    for label, settings in AUTOMATIC_SETTINGS.items():
        generator = SAM2AutomaticMaskGenerator(model, **settings)
        impl.prepare_image_predictor(generator.predictor, args.image_size)
        records = generator.generate(still)
        masks = [r["segmentation"] for r in records]
        if settings.get("output_mode") == "uncompressed_rle":
            masks = [_column_runs_to_mask(m) for m in masks]
        rec.add(f"automatic/{label}", masks=np.array(masks, dtype=bool).reshape(-1, *still.shape[:2]),
                ious=[r["predicted_iou"] for r in records], stability=[r["stability_score"] for r in records])
    return {"video_height": still.shape[0], "video_width": still.shape[1]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--impl", choices=implementations.IMPLEMENTATIONS, required=True)
    parser.add_argument("--config", required=True)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--scenario", choices=SCENARIOS, required=True)
    parser.add_argument("--frames", required=True, help="folder of 00000.jpg, 00001.jpg, ...")
    parser.add_argument("--out", required=True, help="output .npz ('{obj}' in it: one per --only-object)")
    parser.add_argument("--image-size", type=int, default=None)
    parser.add_argument("--only-object", type=int, nargs="+", default=None, metavar="K",
                        help="video scenarios: play object K alone (several: one session each, in turn)")
    parser.add_argument("--device", default="cpu", help="torch device both packages run on (cpu, cuda)")
    args = parser.parse_args(argv)
    if args.only_object is not None and args.scenario not in VIDEO_SCENARIOS:
        parser.error("--only-object applies to video scenarios only")
    sessions = [None] if args.only_object is None else args.only_object
    if len(sessions) > 1 and "{obj}" not in args.out:
        parser.error("--out needs '{obj}' in it for several --only-object")

    torch.manual_seed(0)
    torch.set_num_threads(2)
    # Strict fp32 on GPUs: cuDNN would otherwise run convolutions in TF32 (10-bit mantissa).
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    overrides = [] if args.image_size is None else [f"++model.image_size={args.image_size}"]
    impl = implementations.load(args.impl, overrides)

    with torch.inference_mode():
        started = time.perf_counter()
        build = impl.build_video_predictor if args.scenario in VIDEO_SCENARIOS else impl.build_model
        model = build(args.config, args.checkpoint, device=args.device, hydra_overrides_extra=overrides)
        if args.scenario in VIDEO_SCENARIOS:
            impl.prepare_video_predictor(model)
        build_seconds = time.perf_counter() - started
        for only_object in sessions:
            rec = Recorder()
            started = time.perf_counter()
            if args.scenario in VIDEO_SCENARIOS:
                meta = _run_video(model, impl, args, only_object, rec)
            elif args.scenario in AUTOMATIC_SCENARIOS:
                meta = _run_automatic(model, impl, args, rec)
            else:
                meta = _run_image(model, impl, args, rec)
            total = time.perf_counter() - started
            rec.save(
                Path(args.out.format(obj=only_object)),
                impl=args.impl,
                scenario=args.scenario,
                config=args.config,
                device=args.device,
                total_seconds=total,
                build_seconds=build_seconds,
                package_dir=str(impl.package_dir),
                only_object=-1 if only_object is None else only_object,
                **meta,
            )
            who = "" if only_object is None else f" object {only_object}"
            print(f"{args.impl} {args.scenario}{who}: {rec.count} steps in {total:.1f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
