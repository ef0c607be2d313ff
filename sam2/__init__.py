"""SAM 2 / SAM 2.1 in PyTorch, drop-in compatible with the official ``sam2`` package API."""

__version__ = "0.1.0"
