"""Print {config: {parameter name: shape}} as JSON for the given configs.

Runs under whichever ``sam2`` package is on PYTHONPATH (ours or the reference), building
models with random weights on the CPU.
"""

import json
import sys

import torch
from sam2.build_sam import build_sam2


def manifest(config_files):
    shapes = {}
    for config_file in config_files:
        model = build_sam2(config_file, None, device="cpu")
        shapes[config_file] = {name: list(t.shape) for name, t in model.state_dict().items()}
        del model
    return shapes


if __name__ == "__main__":
    torch.set_num_threads(1)
    json.dump(manifest(sys.argv[1:]), sys.stdout)
