"""tools/vos_inference.py: masks in, masks for every frame out, in both layouts and both modes."""

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import synthetic_frames
from oracle.paths import REPO
from sam2.assembly.random_weights import save_random_checkpoint
from sam2.tracking import Sam2LongSettings
from tracker.media.video_io import write_mp4
from vos.evaluation import evaluate
from vos.mask_files import VideoMasks, davis_palette

FRAMES = 6


def square_masks(frames):
    """Object 1: the moving square of the synthetic frames; object 2: a fixed patch."""
    masks = []
    for frame in frames:
        labels = np.zeros(frame.shape[:2], np.uint8)
        labels[30:44, 2:14] = 2
        labels[np.all(frame == (230, 200, 40), axis=-1)] = 1
        masks.append(labels)
    return masks


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("vos")
    frames = synthetic_frames(FRAMES)
    (root / "videos" / "jpegs").mkdir(parents=True)
    for index, frame in enumerate(frames):
        Image.fromarray(frame).save(root / "videos" / "jpegs" / f"{index:05d}.jpg", quality=95)
    write_mp4(root / "videos" / "clip.mp4", frames, fps=10)
    truth = square_masks(frames)
    for video in ("jpegs", "clip"):
        for per_object, layout in ((False, "davis"), (True, "sav")):
            masks = VideoMasks(root / layout / "gt", video, per_object)
            for index, labels in enumerate(truth):
                objects = {obj: labels == obj for obj in (1, 2)}
                masks.write(f"{index:05d}", objects, labels.shape, davis_palette())
            first = VideoMasks(root / layout / "first", video, per_object)
            first.write("00000", {obj: truth[0] == obj for obj in (1, 2)}, truth[0].shape, davis_palette())
    checkpoint = save_random_checkpoint("test_tiny", str(root / "tiny.pt"))
    return root, checkpoint


def run_tool(dataset, layout, out, *flags, config="test_tiny", checkpoint=None):
    root, tiny_checkpoint = dataset
    result = subprocess.run(
        [sys.executable, str(REPO / "tools" / "vos_inference.py"), "--sam2_cfg", config,
         "--sam2_checkpoint", checkpoint or tiny_checkpoint, "--base_video_dir", str(root / "videos"),
         "--input_mask_dir", str(root / layout / "first"), "--output_mask_dir", str(out), *flags],
        capture_output=True, text=True, timeout=600, cwd=root,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.mark.parametrize("layout, flags", [("davis", ()), ("sav", ("--per_obj_png_file",))])
def test_every_frame_of_jpeg_and_video_inputs_gets_masks(dataset, tmp_path, layout, flags):
    run_tool(dataset, layout, tmp_path / "out", *flags)
    for video in ("jpegs", "clip"):
        masks = VideoMasks(tmp_path / "out", video, bool(flags))
        assert all(masks.has_frame(f"{index:05d}") for index in range(FRAMES))
        first, _ = masks.read("00000")
        assert set(first) <= {1, 2}
    if not flags:
        image = Image.open(tmp_path / "out" / "jpegs" / "00003.png")
        assert image.mode == "P" and image.getpalette()[:9] == davis_palette()[:9]
    report = evaluate(dataset[0] / layout / "gt", tmp_path / "out", strict=True)
    assert len(report.videos) == 2  # the outputs are in the ground truth's layout


def test_objects_tracked_one_by_one_cover_every_frame(dataset, tmp_path):
    run_tool(dataset, "davis", tmp_path / "out", "--track_object_appearing_later_in_video")
    masks = VideoMasks(tmp_path / "out", "clip", False)
    labels = [np.array(Image.open(masks.folder / f"{index:05d}.png")) for index in range(FRAMES)]
    assert len(labels) == FRAMES and all(set(np.unique(frame)) <= {0, 1, 2} for frame in labels)


@pytest.mark.parametrize("config", ["test_tiny_perceiver", "test_tiny_vit"])
def test_edgetam_and_efficienttam_models_run_through_the_dataset_tool(dataset, tmp_path, config):
    checkpoint = save_random_checkpoint(config, str(tmp_path / f"{config}.pt"))
    run_tool(dataset, "sav", tmp_path / "out", "--per_obj_png_file", config=config, checkpoint=checkpoint)
    masks = VideoMasks(tmp_path / "out", "clip", True)
    assert all(masks.has_frame(f"{index:05d}") for index in range(FRAMES))


def test_an_object_given_only_later_names_the_other_mode(dataset, tmp_path):
    root, checkpoint = dataset
    later = root / "later"
    truth = square_masks(synthetic_frames(FRAMES))
    VideoMasks(later, "jpegs", False).write("00000", {1: truth[0] == 1}, truth[0].shape, davis_palette())
    VideoMasks(later, "jpegs", False).write("00002", {1: truth[2] == 1, 2: truth[2] == 2}, truth[0].shape,
                                            davis_palette())
    result = subprocess.run(
        [sys.executable, str(REPO / "tools" / "vos_inference.py"), "--sam2_cfg", "test_tiny",
         "--sam2_checkpoint", checkpoint, "--base_video_dir", str(root / "videos"), "--input_mask_dir", str(later),
         "--output_mask_dir", str(tmp_path / "out"), "--use_all_masks", "--video_list_file", str(_list(tmp_path))],
        capture_output=True, text=True, timeout=600, cwd=root,
    )
    assert result.returncode != 0 and "--track_object_appearing_later_in_video" in result.stderr


def _list(tmp_path):
    path = tmp_path / "videos.txt"
    path.write_text("jpegs\n")
    return path


def drive(env, root, checkpoint, out, *flags):
    command = [sys.executable, str(REPO / "oracle" / "vos_drive.py"), "--config", "configs/sam2.1/sam2.1_hiera_t.yaml",
               "--checkpoint", checkpoint, "--videos", str(root / "jpeg_only"), "--inputs",
               str(root / ("sav" if "--per-object" in flags else "davis") / "first"), "--out", str(out),
               "--image-size", "256", *flags]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900, cwd=root)
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.parity
@pytest.mark.parametrize("flags", [(), ("--per-object",), ("--later",)])
def test_our_inference_equals_the_reference_driven_the_same_way(dataset, tmp_path, flags):
    """The reference sam2==1.1.0 and ours, each driven as the official script drives it, on the
    same random hiera-t weights: masks agree on every object and frame (IoU >= 0.99)."""
    from oracle import reference_env
    from oracle.metrics import mask_iou

    reference = reference_env.find_or_install_reference()
    if reference is None:
        pytest.skip(f"reference sam2==1.1.0 unavailable: {reference_env.last_failure_reason}")
    root, _ = dataset
    (root / "jpeg_only").mkdir(exist_ok=True)
    if not (root / "jpeg_only" / "jpegs").exists():
        (root / "jpeg_only" / "jpegs").symlink_to(root / "videos" / "jpegs")
    checkpoint = save_random_checkpoint("sam2.1_hiera_t", str(root / "hiera_t.pt"))
    ours_env = dict(reference.subprocess_env(), PYTHONPATH=str(REPO))
    drive(reference.subprocess_env(), root, checkpoint, tmp_path / "reference", *flags)
    drive(ours_env, root, checkpoint, tmp_path / "ours", *flags)
    per_object = "--per-object" in flags
    theirs, ours = VideoMasks(tmp_path / "reference", "jpegs", per_object), VideoMasks(tmp_path / "ours", "jpegs", per_object)
    worst = 1.0
    for index in range(FRAMES):
        expected, _ = theirs.read(f"{index:05d}")
        got, _ = ours.read(f"{index:05d}")
        assert set(got) == set(expected)
        worst = min([worst] + [mask_iou(got[obj], expected[obj]) for obj in expected])
    print(f"lowest IoU over objects and frames: {worst:.4f}")
    assert worst >= 0.99


def test_masks_are_written_as_frames_are_tracked(dataset, tmp_path):
    """All objects together: each frame's PNG is on disk before the next frame is tracked, so
    memory does not grow with the video's length (nothing is held until the end)."""
    from sam2.build_sam import build_sam2_video_predictor
    from vos.inference import VosOptions, segment_video, video_input

    root, checkpoint = dataset
    predictor = build_sam2_video_predictor("test_tiny", checkpoint, device="cpu", apply_postprocessing=False)
    video = video_input(root / "videos", "jpegs", open_video=None)
    on_disk = []
    segment_video(predictor, video, root / "davis" / "first", tmp_path, VosOptions(),
                  lambda done, total: on_disk.append((done, len(list((tmp_path / "jpegs").glob("*.png"))))))
    assert on_disk == [(done, done) for done in range(1, FRAMES + 1)]


@pytest.mark.parametrize("later", [False, True])
def test_progress_counts_up_to_the_frames_to_track(dataset, tmp_path, later):
    """Together: one step a frame; objects one by one: one step per object and frame."""
    from sam2.build_sam import build_sam2_video_predictor
    from vos.inference import VosOptions, segment_video, video_input

    root, checkpoint = dataset
    predictor = build_sam2_video_predictor("test_tiny", checkpoint, device="cpu", apply_postprocessing=False)
    calls = []
    video = video_input(root / "videos", "jpegs", open_video=None)
    options = VosOptions(track_object_appearing_later_in_video=later)
    segment_video(predictor, video, root / "davis" / "first", tmp_path, options, lambda *call: calls.append(call))
    steps = FRAMES * (2 if later else 1)
    assert calls == [(done, steps) for done in range(1, steps + 1)]


def test_the_tracker_flag_tracks_with_that_policy_here_and_in_ray_tasks(dataset, tmp_path):
    import pickle

    from vos.job import ModelSpec

    run_tool(dataset, "davis", tmp_path / "out", "--tracker", "samurai")
    masks = VideoMasks(tmp_path / "out", "clip", False)
    assert all(masks.has_frame(f"{index:05d}") for index in range(FRAMES))
    spec = pickle.loads(pickle.dumps(ModelSpec("test_tiny", dataset[1], tracker="samurai")))  # as Ray sends it
    assert spec.build(()).tracker.name == "samurai"
    assert ModelSpec("test_tiny", dataset[1]).build(()).tracker.name == "sam2"
    bad = subprocess.run([sys.executable, str(REPO / "tools" / "vos_inference.py"), "--base_video_dir", ".",
                          "--input_mask_dir", ".", "--output_mask_dir", ".", "--tracker", "kalman"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "invalid choice: 'kalman'" in bad.stderr



def test_sam2long_flags_choose_it_with_those_settings(dataset, tmp_path):
    import importlib.util
    import pickle

    from vos.job import ModelSpec

    spec = importlib.util.spec_from_file_location("vos_tool", REPO / "tools" / "vos_inference.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    common = ["--base_video_dir", ".", "--input_mask_dir", ".", "--output_mask_dir", "."]
    chosen = tool.chosen_tracker(tool.parse_args([*common, "--num_pathway", "2", "--iou_thre", "0.3"]))
    assert chosen == Sam2LongSettings(num_pathway=2, iou_thre=0.3)
    spec = pickle.loads(pickle.dumps(ModelSpec("test_tiny", dataset[1], tracker=chosen)))  # as Ray sends it
    assert spec.build(()).tracker == chosen
    assert tool.chosen_tracker(tool.parse_args([*common, "--tracker", "samurai"])) == "samurai"
    with pytest.raises(SystemExit, match="SAM2Long's settings, not samurai's"):
        tool.chosen_tracker(tool.parse_args([*common, "--tracker", "samurai", "--uncertainty", "1"]))
    with pytest.raises(SystemExit, match="num_pathway must be"):
        tool.chosen_tracker(tool.parse_args([*common, "--num_pathway", "0"]))
    run_tool(dataset, "davis", tmp_path / "out", "--num_pathway", "2", "--uncertainty", "100")
    masks = VideoMasks(tmp_path / "out", "clip", False)
    assert all(masks.has_frame(f"{index:05d}") for index in range(FRAMES))


@pytest.mark.parametrize("later", [False, True])
def test_frames_revised_when_the_run_ends_are_written_over_and_counted_once(
        dataset, tmp_path, later, sam2long_revises_frames_2_to_4, monkeypatch):
    from sam2.build_sam import build_sam2_video_predictor
    from vos.inference import VosOptions, segment_video, video_input

    root, checkpoint = dataset
    predictor = build_sam2_video_predictor("test_tiny", checkpoint, device="cpu", apply_postprocessing=False,
                                           tracker="sam2long")
    calls, written = [], []
    video = video_input(root / "videos", "jpegs", open_video=None)
    original = VideoMasks.write

    def write(self, frame, masks, *args):
        written.append(frame)
        return original(self, frame, masks, *args)

    monkeypatch.setattr(VideoMasks, "write", write)
    options = VosOptions(track_object_appearing_later_in_video=later)
    frames = segment_video(predictor, video, root / "davis" / "first", tmp_path, options, lambda *call: calls.append(call))
    steps = FRAMES * (2 if later else 1)
    assert frames == FRAMES and calls[-1] == (steps, steps) and all(done <= total for done, total in calls)
    if not later:  # objects tracked together: frames 2-4 written again, last
        assert written == [f"{i:05d}" for i in [*range(FRAMES), 2, 3, 4]]
