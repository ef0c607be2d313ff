"""``sam2.utils.misc``, ``sam2.utils.transforms`` and ``sam2.utils.amg`` answer what third-party code imports from
the official package, with the official results: the same script runs against ours and the
reference (sam2==1.1.0, in a subprocess) and saves what it got."""

import subprocess
import sys

import numpy as np
import torch
from PIL import Image

from oracle.paths import REPO

SCRIPT = r"""
import sys
import numpy as np
import torch
from PIL import Image
import sam2
from sam2.utils.misc import _load_img_as_tensor, concat_points, load_video_frames, mask_to_box
from sam2.utils.transforms import SAM2Transforms

folder, out = sys.argv[1], sys.argv[2]
print(sam2.__file__)
got = {}
frames, height, width = load_video_frames(folder, 64, offload_video_to_cpu=True, compute_device=torch.device("cpu"))
got["frames"], got["size"] = frames.numpy(), np.array([height, width])
custom, _, _ = load_video_frames(folder, 32, True, img_mean=(0.5, 0.5, 0.5), img_std=(0.25, 0.5, 1.0),
                                 compute_device=torch.device("cpu"))
got["custom"] = custom.numpy()
lazy, lazy_height, lazy_width = load_video_frames(folder, 64, True, async_loading_frames=True,
                                                  compute_device=torch.device("cpu"))
got["lazy"] = np.stack([lazy[i].float().numpy() for i in range(len(lazy))])
got["lazy_size"] = np.array([lazy_height, lazy_width])
image, h, w = _load_img_as_tensor(folder + "/00001.jpg", 48)
got["image"], got["image_dtype"] = image.numpy(), np.array(str(image.dtype))
masks = torch.zeros(3, 1, 20, 30, dtype=torch.bool)
masks[0, 0, 2:5, 7:19] = True
masks[1, 0, 19, 0] = True
got["boxes"] = mask_to_box(masks).numpy()
first = concat_points(None, torch.ones(1, 2, 2), torch.ones(1, 2, dtype=torch.int32))
both = concat_points(first, torch.zeros(1, 1, 2), torch.zeros(1, 1, dtype=torch.int32))
got["points"], got["labels"] = both["point_coords"].numpy(), both["point_labels"].numpy()
transforms = SAM2Transforms(resolution=64, mask_threshold=0.0)
picture = np.asarray(Image.open(folder + "/00000.jpg").convert("RGB"))
got["input"] = transforms(picture).numpy()
got["batch"] = transforms.forward_batch([picture, picture[::-1].copy()]).numpy()
points = torch.tensor([[[10.0, 20.0], [96.0, 60.0]]])
got["coords"] = transforms.transform_coords(points, normalize=True, orig_hw=(61, 97)).numpy()
got["unit_coords"] = transforms.transform_coords(points / 100, normalize=False).numpy()
got["box_corners"] = transforms.transform_boxes(torch.tensor([[5.0, 6.0, 50.0, 40.0]]), True, (61, 97)).numpy()
logits = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
got["upsampled"] = transforms.postprocess_masks(logits, (61, 97)).numpy()
np.savez(out, **got)
"""


AMG_SCRIPT = r"""
import sys
import numpy as np
import torch
import sam2
from sam2.utils import amg

out = sys.argv[1]
print(sam2.__file__)
generator = torch.Generator().manual_seed(3)
logits = torch.randn(4, 2, 24, 32, generator=generator) * 4
masks = logits > 0
masks[1, 0] = False
got = {}
got["boxes"] = amg.batched_mask_to_box(masks).numpy()
got["stability"] = amg.calculate_stability_score(logits, 0.0, 1.0).numpy()
encoded = amg.mask_to_rle_pytorch(masks[:, 0])
got["rle_counts"] = np.array([c for e in encoded for c in e["counts"] + [-1]])
got["decoded"] = np.stack([amg.rle_to_mask(e) for e in encoded])
got["areas"] = np.array([amg.area_from_rle(e) for e in encoded])
got["coco"] = np.array([amg.coco_encode_rle(e)["counts"] for e in encoded])
for n in (1, 5, 32, 64):
    got[f"grid_{n}"] = amg.build_point_grid(n)
got["layer_grids"] = np.concatenate(amg.build_all_layer_point_grids(32, 2, 2))
crops, layers = amg.generate_crop_boxes((683, 1024), 2, 512 / 1500)
got["crops"], got["layers"] = np.array(crops), np.array(layers)
boxes = torch.tensor([[0, 0, 30, 30], [100, 20, 170, 60], [5, 300, 200, 341]])
got["near_edge"] = amg.is_box_near_crop_edge(boxes, [0, 0, 171, 342], [0, 0, 1024, 683]).numpy()
got["xywh"] = amg.box_xyxy_to_xywh(torch.tensor([3, 4, 10, 20])).numpy()
got["uncropped_boxes"] = amg.uncrop_boxes_xyxy(boxes, [10, 20, 200, 300]).numpy()
got["uncropped_points"] = amg.uncrop_points(torch.tensor([[1.5, 2.5]]), [10, 20, 200, 300]).numpy()
got["uncropped_masks"] = amg.uncrop_masks(masks[:, 0], [10, 20, 42, 44], 50, 60).numpy()
got["batches"] = np.array([len(b[0]) for b in amg.batch_iterator(3, list(range(8)), np.arange(8))])
blob = np.zeros((40, 40), bool)
blob[5:30, 5:30] = True
blob[10:12, 10:12] = False
blob[35:37, 35:37] = True
for mode in ("holes", "islands"):
    cleaned, changed = amg.remove_small_regions(blob, 10, mode)
    got[mode], got[mode + "_changed"] = cleaned, np.array(changed)
data = amg.MaskData(ious=torch.arange(5.0), names=list("abcde"), points=np.arange(10).reshape(5, 2))
data.filter(torch.tensor([True, False, True, True, False]))
data.cat(amg.MaskData(ious=torch.tensor([9.0]), names=["z"], points=np.array([[7, 7]])))
data.filter(torch.tensor([3, 0]))
data.to_numpy()
got["data_ious"], got["data_names"], got["data_points"] = data["ious"], np.array(data["names"]), data["points"]
np.savez(out, **got)
"""


def jpeg_folder(folder):
    folder.mkdir()
    rng = np.random.default_rng(7)
    for index in range(3):
        Image.fromarray(rng.integers(0, 256, (61, 97, 3), dtype=np.uint8)).save(folder / f"{index:05d}.jpg", quality=90)
    return folder


def run(env, folder, out):
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(folder), str(out)], env=env, capture_output=True,
                            text=True, timeout=300, cwd=out.parent)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.splitlines()[0], dict(np.load(out))


def test_misc_and_transforms_give_the_reference_results(reference_sam2, tmp_path):
    folder = jpeg_folder(tmp_path / "frames")
    theirs_file, theirs = run(reference_sam2.subprocess_env(), folder, tmp_path / "theirs.npz")
    ours_file, ours = run(dict(reference_sam2.subprocess_env(), PYTHONPATH=str(REPO)), folder, tmp_path / "ours.npz")
    assert str(reference_sam2.pkg_dir) in theirs_file and ours_file.startswith(str(REPO))
    assert sorted(ours) == sorted(theirs)
    for name in ours:
        assert ours[name].dtype == theirs[name].dtype and ours[name].shape == theirs[name].shape, name
        if name == "batch" or name == "input":
            np.testing.assert_allclose(ours[name], theirs[name], atol=1e-5, err_msg=name)
        else:
            assert np.array_equal(ours[name], theirs[name]), name


def test_amg_helpers_give_the_reference_results(reference_sam2, tmp_path):
    theirs = run_script(AMG_SCRIPT, reference_sam2.subprocess_env(), tmp_path / "theirs.npz", reference_sam2.pkg_dir)
    ours = run_script(AMG_SCRIPT, dict(reference_sam2.subprocess_env(), PYTHONPATH=str(REPO)), tmp_path / "ours.npz", REPO)
    assert sorted(ours) == sorted(theirs)
    for name in ours:
        assert ours[name].dtype == theirs[name].dtype, (name, ours[name].dtype, theirs[name].dtype)
        assert np.array_equal(ours[name], theirs[name]), name


def run_script(script, env, out, package_root):
    result = subprocess.run([sys.executable, "-c", script, str(out)], env=env, capture_output=True, text=True,
                            timeout=300, cwd=out.parent)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines()[0].startswith(str(package_root)), result.stdout
    return dict(np.load(out))


def test_connected_components_and_hole_filling_run_without_a_cuda_extension():
    """The official versions need a CUDA extension (and warn and skip without it); ours work
    anywhere: a 2-pixel hole inside an object is filled, the outside stays background."""
    from sam2.utils.misc import fill_holes_in_mask_scores, get_connected_components

    mask = torch.zeros(1, 1, 8, 8)
    mask[0, 0, 1:6, 1:6] = 5.0
    mask[0, 0, 3, 2:4] = -5.0
    labels, areas = get_connected_components(mask > 0)
    assert labels.dtype == areas.dtype == torch.int32 and labels.shape == mask.shape
    assert set(labels.unique().tolist()) == {0, 1} and int(areas.max()) == 23 and int(areas[0, 0, 0, 0]) == 0
    filled = fill_holes_in_mask_scores(mask, max_area=2)
    assert torch.all(filled[0, 0, 3, 2:4] == 0.1) and filled[0, 0, 7, 7] == 0.0
