"""Where a video session's state keeps its tensors, for applications that hold many sessions or
carry one between processes (not part of the official API).

A state at rest waits between calls with every output's large tensors (memory features,
low-resolution logits) in its spill folder, so what stays in RAM, or crosses to another
process by pickling, is prompts, object pointers and file names. Put the folder where the
application manages its files with ``MemoryPolicy(spill_dir=...)``:

    state = predictor.init_state(video, memory_policy=MemoryPolicy(spill_dir=session_dir))
    rest(state)                      # between calls, or before sending the state away
    wake(state, predictor.device)    # before the next call on the state
    tidy_spill(state)                # after a call made on a copy: drop files no state uses
"""

from sam2.session.state import InferenceState


def rest(state: InferenceState) -> InferenceState:
    """Move ``state`` to the CPU with every output's large tensors in its spill folder."""
    state.to("cpu")
    state.spill_outputs()
    return state


def wake(state: InferenceState, device) -> InferenceState:
    """Ready a resting ``state`` for a call on ``device``: tensors there, and the outputs of
    prompted frames (which every tracked frame reads) back in memory."""
    state.to(device)
    state.restore_prompted_outputs()
    return state


def tidy_spill(state: InferenceState) -> int:
    """Delete the files of the state's spill folder that ``state`` does not refer to: those of
    outputs replaced on a copy of it (in another process, say). Call it with the current state
    only. Returns how many files went."""
    if state.spill is None:
        return 0
    return state.spill.keep_only(state.spilled_keys())


def release(state: InferenceState) -> None:
    """Free the state's objects and cached image features now, and delete its spill folder if
    the library made it (a caller's folder stays); the state is then empty."""
    state.objects.clear()
    state.cached_features.clear()
    if state.spill is not None:
        state.spill.close()
