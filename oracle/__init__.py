"""Tools that tests and benchmarks share, never imported by the app or by ``sam2``.

The reference ``sam2==1.1.0`` as an oracle (its environment, checkpoints in its format, a
scenario runner for either package, recording comparison), mask and memory measures, data
paths, and the strict ZeroGPU stand-in.
"""
