"""Random weights from a manifest of tensor names, shapes and dtypes: no model code needed.

A golden file recorded once with an official code that CI cannot fetch keeps the manifest
of that model's state dict; :func:`generate` turns it back into the same weights anywhere.
Every tensor gets its own seed (from the run's seed and its name), values come from NumPy's
frozen legacy generator, and each is initialised the way its kind of layer usually is:

* ``*.weight`` of 2 or more dims: uniform in +-1/sqrt(fan_in) (linear and conv layers),
  except embedding tables (``*embed*``, ``*token*``): standard normal;
* ``*.weight`` of 1 dim: ones, ``*.bias``: zeros (norm layers); a bias beside a 2+-dim
  weight: uniform in +-1/sqrt(that weight's fan_in);
* layer-scale ``*gamma``: 1e-6; ``*running_mean``/``*running_var``: zeros/ones;
* the prompt encoder's random Fourier matrix: standard normal;
* any other float tensor (learnt embeddings, positions, latents): normal with std 0.02;
* integer tensors: zeros.

:func:`informative_weights` then makes them give informative masks (the tweaks of
``informative.py``), and :func:`digest` fingerprints the result so a golden file can
tell when they drift.
"""

from __future__ import annotations

import hashlib
import math
import re
import zlib

import numpy as np
import torch

from oracle.informative import make_informative

_EMBEDDING = re.compile(r"(embed|embeddings|token|tokens)(\.\d+)?$")
_FOURIER = "positional_encoding_gaussian_matrix"


def manifest_of(state: dict) -> dict:
    """{name: {"shape": [...], "dtype": "float32"}} of a state dict, in its order."""
    return {
        name: {"shape": list(tensor.shape), "dtype": str(tensor.dtype).removeprefix("torch.")}
        for name, tensor in state.items()
    }


def _fan_in(shape) -> int:
    return max(1, math.prod(shape[1:]))


def _values(name: str, shape: list, manifest: dict, rng: np.random.RandomState) -> np.ndarray:
    module, _, leaf = name.rpartition(".")
    uniform = lambda bound: rng.uniform(-bound, bound, size=shape)  # noqa: E731
    if leaf == "weight" and len(shape) >= 2:
        if _EMBEDDING.search(module):
            return rng.standard_normal(size=shape)
        return uniform(1 / math.sqrt(_fan_in(shape)))
    if leaf == "weight":
        return np.ones(shape)
    if leaf == "bias":
        sibling = manifest.get(f"{module}.weight", {}).get("shape", [])
        return uniform(1 / math.sqrt(_fan_in(sibling))) if len(sibling) >= 2 else np.zeros(shape)
    if leaf.endswith("gamma"):
        return np.full(shape, 1e-6)
    if leaf.endswith("running_mean"):
        return np.zeros(shape)
    if leaf.endswith("running_var"):
        return np.ones(shape)
    if leaf == _FOURIER:
        return rng.standard_normal(size=shape)
    return 0.02 * rng.standard_normal(size=shape)


def generate(manifest: dict, seed: int) -> dict:
    """A state dict with the manifest's names, shapes and dtypes, the same on every machine."""
    state = {}
    for name, entry in manifest.items():
        dtype = getattr(torch, entry["dtype"])
        shape = list(entry["shape"])
        if not dtype.is_floating_point:
            state[name] = torch.zeros(shape, dtype=dtype)
            continue
        rng = np.random.RandomState(zlib.crc32(f"{seed}:{name}".encode()))
        values = np.asarray(_values(name, shape, manifest, rng), dtype=np.float32)
        state[name] = torch.from_numpy(values.reshape(shape)).to(dtype)
    return state


def informative_weights(manifest: dict, seed: int) -> dict:
    """:func:`generate`, then the informative tweaks every test checkpoint gets."""
    return make_informative(generate(manifest, seed), seed)


def digest(state: dict) -> str:
    """SHA-256 over every tensor's name, dtype, shape and bytes."""
    hasher = hashlib.sha256()
    for name, tensor in state.items():
        value = tensor.detach().cpu()
        hasher.update(f"{name}|{value.dtype}|{tuple(value.shape)}|".encode())
        hasher.update(value.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return hasher.hexdigest()
