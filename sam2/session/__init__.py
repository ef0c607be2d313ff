"""A video session's state and where it keeps it: per-frame outputs, spilled tensors."""
