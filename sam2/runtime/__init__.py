"""Run-time settings: precision per device, the session memory policy, the CPU allocator opt-in."""
