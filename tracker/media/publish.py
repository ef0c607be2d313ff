"""Files handed to the browser appear whole: written under a temporary name in their final
folder, then renamed, so a request never reads a file that is still being written."""

import hashlib
import io
import os
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image


def publish(path: Path, write: Callable[[Path], object]) -> Path:
    """``write(partial)`` to a hidden name beside ``path`` (same suffix, so writers that go by
    it pick the same format), then rename it to ``path``; nothing is left behind on failure."""
    partial = path.with_name(f".{path.stem}.partial{path.suffix}")
    try:
        write(partial)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def publish_image(image: np.ndarray, root: Path, name: str) -> Path:
    """``image`` (H, W, 3) uint8 as ``root/<content hash>/<name>.webp``. The same picture maps to
    the same file, which is written once and never rewritten (Gradio's own cache rewrites it in
    place, and a browser still fetching the earlier answer gets a truncated image)."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="webp")
    data = buffer.getvalue()
    folder = root / hashlib.sha256(data).hexdigest()
    path = folder / f"{name}.webp"
    if path.exists():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    descriptor, staging = tempfile.mkstemp(dir=folder, prefix=f".{name}.")
    with os.fdopen(descriptor, "wb") as out:
        out.write(data)
    os.replace(staging, path)
    return path
