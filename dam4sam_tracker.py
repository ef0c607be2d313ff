"""DAM4SAM's import path (``from dam4sam_tracker import DAM4SAMTracker``), served by sam2's
engine: see :mod:`sam2.dam4sam_tracker`."""

from sam2.dam4sam_tracker import TRACKER_MODELS, DAM4SAMTracker

__all__ = ["DAM4SAMTracker", "TRACKER_MODELS"]
