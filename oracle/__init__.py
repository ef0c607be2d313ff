"""Tools that tests and benchmarks share, never imported by the app or by ``sam2``.

The official codes as oracles, each installed in a folder of its own (``reference_env``:
``sam2==1.1.0``, EdgeTAM, EfficientTAM) and driven through its own API with the fixes a CPU
run needs (``implementations``), checkpoints in their format (``make_checkpoint``, and
``manifest_weights`` without any model code), a scenario runner for any of them, per object
too (``scenarios``, ``run_scenario``), recording comparison (``compare``) and golden files
for codes CI cannot fetch (``golden``, ``record_efficienttam``), mask and memory measures,
data paths, and the strict ZeroGPU stand-in.
"""
