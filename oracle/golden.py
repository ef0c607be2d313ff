"""Golden recordings: scenario recordings shrunk to what a parity check of masks needs.

Kept in the repository for official codes CI cannot fetch. A golden recording is three
arrays under a prefix (several recordings share one file, ``video_full/steps``, ...):

* ``steps``: JSON, per step its label, frame index, object ids and the shapes of its outputs;
* ``mask_bits``: every mask output thresholded (logits ``> 0``, ``masks`` ``> 0.5``), bit-packed
  one after the other and LZMA-compressed (masks repeat across re-propagations, which LZMA
  finds: a third of zlib's size);
* ``scores``: the score outputs (IoU predictions), float32, one after the other.

Numpy and the standard library only.
"""

from __future__ import annotations

import json
import lzma
from collections.abc import Mapping

import numpy as np

from oracle.compare import LOGIT_KEYS, MASK_KEYS, SCORE_KEYS, Report, compare_arrays


def shrink(recording: Mapping, prefix: str = "") -> dict:
    """The golden form of a ``run_scenario`` recording, its keys starting with ``prefix``."""
    steps, bits, scores = [], [], []
    for i in range(int(recording["meta_num_steps"])):
        step = f"step{i:03d}_"
        entry = {
            "label": str(recording[step + "label"]),
            "frame_idx": int(recording[step + "frame_idx"]),
            "obj_ids": [int(o) for o in recording[step + "obj_ids"]],
            "masks": {},
            "scores": {},
        }
        for name in (*LOGIT_KEYS, *MASK_KEYS):
            if step + name in recording:
                values = np.asarray(recording[step + name])
                entry["masks"][name] = list(values.shape)
                bits.append(np.packbits(values > (0.5 if name in MASK_KEYS else 0)))
        for name in SCORE_KEYS:
            if step + name in recording:
                values = np.asarray(recording[step + name], dtype=np.float32)
                entry["scores"][name] = list(values.shape)
                scores.append(values.ravel())
        steps.append(entry)
    packed = np.concatenate(bits).tobytes() if bits else b""
    return {
        prefix + "steps": np.array(json.dumps(steps)),
        prefix + "mask_bits": np.frombuffer(lzma.compress(packed, preset=9), dtype=np.uint8),
        prefix + "scores": np.concatenate(scores) if scores else np.zeros(0, np.float32),
    }


def expand(golden: Mapping, prefix: str = "") -> dict:
    """A golden recording back as recording arrays, masks as booleans (see ``shrink``)."""
    steps = json.loads(str(golden[prefix + "steps"]))
    bits = np.frombuffer(lzma.decompress(np.asarray(golden[prefix + "mask_bits"]).tobytes()), dtype=np.uint8)
    scores = np.asarray(golden[prefix + "scores"])
    arrays = {"meta_num_steps": np.array(len(steps), dtype=np.int64)}
    bit_at = score_at = 0
    for i, entry in enumerate(steps):
        step = f"step{i:03d}_"
        arrays[step + "label"] = np.array(entry["label"])
        arrays[step + "frame_idx"] = np.array(entry["frame_idx"], dtype=np.int64)
        arrays[step + "obj_ids"] = np.array(entry["obj_ids"], dtype=np.int64)
        for name, shape in entry["masks"].items():
            count = int(np.prod(shape))
            nbytes = (count + 7) // 8
            unpacked = np.unpackbits(bits[bit_at:bit_at + nbytes], count=count)
            arrays[step + name] = unpacked.astype(bool).reshape(shape)
            bit_at += nbytes
        for name, shape in entry["scores"].items():
            count = int(np.prod(shape))
            arrays[step + name] = scores[score_at:score_at + count].reshape(shape)
            score_at += count
    return arrays


def compare_with_golden(
    golden: Mapping, prefix: str, recording: Mapping, min_iou: float = 0.999, max_score_diff: float = 0.02
) -> Report:
    """Compare a fresh recording with the golden one stored under ``prefix``: the same steps,
    mask IoU (of the thresholded masks) and score differences."""
    return compare_arrays(
        expand(golden, prefix), expand(shrink(recording)), min_iou, max_score_diff=max_score_diff
    )


def recorder_main(record, names, option: str, description: str, argv=None) -> int:
    """The command line of a golden-file recorder: ``--<option> NAME ...`` (default: all of
    ``names``), recorded by ``record(chosen, workdir)`` in a scratch folder under ``.cache``."""
    import argparse
    import tempfile
    from pathlib import Path

    from oracle.paths import CACHE

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(f"--{option}", nargs="+", default=list(names), choices=list(names))
    args = parser.parse_args(argv)
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"{option}-recording-", dir=CACHE) as workdir:
        record(getattr(args, option), Path(workdir))
    return 0

