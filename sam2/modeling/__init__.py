"""Neural network building blocks of SAM 2; parameter names follow the official checkpoints."""
