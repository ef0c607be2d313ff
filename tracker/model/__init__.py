"""The models: loading them, the precision and sizes they run at, the GPU contract, every model call, and the prompt and mask records the calls exchange."""
