"""SAM 2 / SAM 2.1 in PyTorch, drop-in compatible with the official ``sam2`` package API."""

__version__ = "1.1.0+ours"  # as in pyproject.toml (tests/test_install.py checks)
