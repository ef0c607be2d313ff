"""Write a random-weights checkpoint, in the official format, that gives informative masks.

Run in a subprocess under an implementation (``--impl``, default the reference; PYTHONPATH
decides which package it imports):

    python make_checkpoint.py --config configs/sam2.1/sam2.1_hiera_t.yaml --out w.pt --seed 0

The weights get the tweaks of ``informative.py``, so that masks have real content. Only the
implementation's official model builder is used (``build_sam2``; for EdgeTAM with its timm
trunk kept offline, see implementations.py). PYTHONPATH holds the implementation's package,
then this checkout (for ``oracle``). The saved file is ``{"model": state_dict}``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from oracle import implementations, manifest_weights
from oracle.informative import informative_state_dict


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="official config name")
    parser.add_argument("--out", required=True, help="where to write the .pt file")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--impl", default="reference", help="implementation that builds the model")
    parser.add_argument("--manifest-out", default=None,
                        help="generate the weights from the model's manifest (manifest_weights.py) "
                             "instead of its own initialisation, and write that manifest here (JSON)")
    args = parser.parse_args(argv)

    impl = implementations.load(args.impl, overrides=[])
    torch.manual_seed(args.seed)
    model = impl.build_model(args.config, None, device="cpu")
    if args.manifest_out:
        manifest = manifest_weights.manifest_of(model.state_dict())
        state = manifest_weights.informative_weights(manifest, args.seed)
        Path(args.manifest_out).write_text(json.dumps(manifest))
    else:
        state = informative_state_dict(model, args.seed)
    torch.save({"model": state}, args.out)
    print(f"wrote {len(state)} tensors to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
