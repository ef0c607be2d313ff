"""How much of a video session stays in memory: one policy instead of scattered constants."""

import os
from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class MemoryPolicy:
    """Memory limits of one video session (pass it to ``SAM2VideoPredictor.init_state``).

    ===========================  =========================================  ==============================================
    field (default)              bounds                                     costs when smaller / larger
    ===========================  =========================================  ==============================================
    ``feature_cache_frames``     image features kept per session            smaller: prompts on several frames re-encode
    (4)                          (~16 MB a frame at 1024 px)                them; larger: RAM
    ``model_input_cache_frames`` resized model inputs kept by the frame     smaller: re-reading a frame resizes it again;
    (8)                          source (12 MB a frame at 1024 px, fp32)    larger: RAM
    ``decoded_cache_bytes``      decoded RGB frames kept by a video file    smaller: reverse reads seek more often;
    (64 MiB)                     (at least 1, at most 32 frames)            larger: RAM
    ``resident_memory_frames``   tracked frames per object whose memories   smaller: corrections read memories back from
    (None: ``num_maskmem + 1``)  and logits stay in RAM before spilling     disk; larger: RAM
    ``spill_to_disk`` (True)     whether older tracked outputs go to a      off: RAM grows with every tracked frame
                                 temporary folder at all
    ``frames_between_trims``     frames between heap trims while tracking   smaller: more page faults; larger: a
    (50)                         on the CPU (``malloc_trim(0)``: free       fragmented heap grows with the video
                                 pages back to the OS, nothing else)
    ``spill_dir``                where spilled outputs go: None, a private  a caller's folder is never deleted here; the
    (None)                       temporary folder; else the caller's        caller removes it, and files that copies of
                                 folder (created if missing)                the state left: ``state_storage.tidy_spill``
    ===========================  =========================================  ==============================================

    The two frame-source limits apply when ``init_state`` opens the video itself, not to a
    ``FrameSource`` passed in.
    """

    feature_cache_frames: int = 4
    model_input_cache_frames: int = 8
    decoded_cache_bytes: int = 64 * 2**20
    resident_memory_frames: Optional[int] = None
    spill_to_disk: bool = True
    frames_between_trims: int = 50
    spill_dir: Optional[str] = None

    def __post_init__(self) -> None:
        minimums = {"feature_cache_frames": 0, "model_input_cache_frames": 0, "decoded_cache_bytes": 1,
                    "resident_memory_frames": 1, "frames_between_trims": 1}
        for name, minimum in minimums.items():
            value = getattr(self, name)
            if value is None and name == "resident_memory_frames":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
        if self.spill_dir is not None and not isinstance(self.spill_dir, (str, os.PathLike)):
            raise ValueError(f"spill_dir must be a folder path or None, got {self.spill_dir!r}")

    def resident_limit(self, num_maskmem: int) -> Optional[int]:
        """Tracked outputs per object kept in RAM before spilling; None: never spill."""
        if not self.spill_to_disk:
            return None
        return num_maskmem + 1 if self.resident_memory_frames is None else self.resident_memory_frames


DEFAULT_MEMORY_POLICY = MemoryPolicy()
