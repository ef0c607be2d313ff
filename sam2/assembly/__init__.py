"""From a config name and a checkpoint to a model: configs, overrides, weights, the hub."""
