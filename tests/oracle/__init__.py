"""Reference-oracle harness: checkpoints, scenario runner and comparison for parity tests."""
