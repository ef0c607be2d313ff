"""Video files as frame sources: OpenCV decoding on demand with exact frame indexing."""

from __future__ import annotations

import os
from collections import OrderedDict

import cv2
import numpy as np

from .frame_source import DEFAULT_CACHE_SIZE, VIDEO_EXTENSIONS, FrameSource

class VideoFileSource(FrameSource):
    """A video file decoded on demand with OpenCV (FFmpeg backend).

    At open, the frame count and each frame's timestamp come from one pass over the packets
    (no decoding), confirmed by decoding the last frame; if that fails, the file is decoded
    once without keeping frames. Reads continue the decoder when they go forward; otherwise
    they seek and confirm the landing frame by its timestamp. A backward read also keeps the
    few frames before the target, so reading in reverse seeks once per window, not per frame.
    Memory: the model-input cache, a window of decoded frames bounded by
    ``decoded_cache_bytes`` (at least one frame) and one float64 timestamp per frame.
    Frames come out upright (OpenCV applies the rotation tag, kept in ``rotation``).
    A pickled copy keeps the metadata and opens its own decoder at its first read.
    """

    #: Forward jumps up to this many frames decode through instead of seeking.
    FORWARD_DECODE_LIMIT = 48
    #: Upper bound on the number of decoded frames kept.
    MAX_DECODED_FRAMES = 32

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        cache_size: int = DEFAULT_CACHE_SIZE,
        decoded_cache_bytes: int = 64 * 2**20,
    ) -> None:
        super().__init__(cache_size)
        self.path = os.fspath(path)
        if not os.path.exists(self.path):
            raise FileNotFoundError(f"video file not found: {self.path!r}")
        if os.path.isdir(self.path):
            raise ValueError(f"{self.path!r} is a folder, not a video file")
        ext = os.path.splitext(self.path)[1].lower()
        if ext not in VIDEO_EXTENSIONS:
            raise ValueError(
                f"unsupported video file extension {ext or '(none)'!r} for {self.path!r}; "
                f"supported: {', '.join(VIDEO_EXTENSIONS)}"
            )
        self._cap: cv2.VideoCapture | None = self._open_capture()
        self._closed = False
        self._pos = -1  # index of the frame last grabbed by self._cap (-1: none yet)
        self._decoded: OrderedDict[int, np.ndarray] = OrderedDict()  # index -> RGB frame
        self._window = 1
        self._set_timestamps(None)
        try:
            self._init_metadata(decoded_cache_bytes)
        except BaseException:
            self._cap.release()
            raise

    # -- opening --------------------------------------------------------------------------
    def _open_capture(self, raw_packets: bool = False) -> cv2.VideoCapture:
        cap = cv2.VideoCapture(self.path, cv2.CAP_FFMPEG)
        if not cap.isOpened():
            cap.release()
            raise ValueError(
                f"cannot read video file {self.path!r}: it is empty, corrupt or in an "
                "unsupported format"
            )
        if raw_packets and not cap.set(cv2.CAP_PROP_FORMAT, -1):
            cap.release()
            raise RuntimeError("raw packet reading is not supported by this OpenCV build")
        return cap

    def _init_metadata(self, decoded_cache_bytes: int) -> None:
        cap = self._cap
        rotation, count, fps = (
            cap.get(prop)
            for prop in (cv2.CAP_PROP_ORIENTATION_META, cv2.CAP_PROP_FRAME_COUNT, cv2.CAP_PROP_FPS)
        )
        self.rotation = int(rotation) if np.isfinite(rotation) else 0
        #: What the container claims (OpenCV's CAP_PROP_FRAME_COUNT); may be wrong.
        self.container_frame_count = int(count) if np.isfinite(count) and count > 0 else 0

        if not self._grab():
            raise ValueError(f"cannot read video file {self.path!r}: no frame could be decoded")
        first = self._retrieve(0)
        self.video_height, self.video_width = first.shape[:2]
        fitting = decoded_cache_bytes // first.nbytes
        self._window = int(np.clip(fitting, 1, self.MAX_DECODED_FRAMES))

        times = self._scan_timestamps(raw_packets=True)
        self._set_timestamps(times)
        if times is None or not self._last_frame_checks_out():
            self._set_timestamps(self._scan_timestamps(raw_packets=False))
        self._rewind()
        self.num_frames = len(self._times)
        if self.num_frames == 0:
            raise ValueError(f"cannot read video file {self.path!r}: no frame could be decoded")

        if fps and np.isfinite(fps) and fps > 0:
            self.fps: float | None = float(fps)
        elif self.num_frames > 1 and self._times[-1] > self._times[0]:
            self.fps = 1000.0 * (self.num_frames - 1) / float(self._times[-1] - self._times[0])
        else:
            self.fps = None

    def _scan_timestamps(self, raw_packets: bool) -> np.ndarray | None:
        """Presentation times (ms) of all frames, from packets (fast) or by decoding."""
        try:
            cap = self._open_capture(raw_packets=raw_packets)
        except RuntimeError:
            return None
        times = []
        try:
            while cap.grab():
                times.append(cap.get(cv2.CAP_PROP_POS_MSEC))
        finally:
            cap.release()
        if not times:
            return None
        # Packets arrive in decoding order; frames are shown in timestamp order.
        return np.sort(np.asarray(times)) if raw_packets else np.asarray(times)

    def _set_timestamps(self, times: np.ndarray | None) -> None:
        self._times = np.zeros(0) if times is None else times
        gaps = np.diff(self._times)
        # Timestamps can identify frames only when they strictly increase.
        self._seekable = bool(len(self._times) > 0 and np.all(gaps > 0))
        self._tolerance = 0.5  # ms
        if self._seekable and gaps.size:
            self._tolerance = min(0.5, 0.25 * float(gaps.min()))

    def frame_times(self) -> np.ndarray:
        """Each frame's presentation time in seconds from the first frame's (from the file)."""
        if not self._seekable:
            return super().frame_times()
        return (self._times - self._times[0]) / 1000.0

    def _last_frame_checks_out(self) -> bool:
        """Decode the last counted frame and make sure nothing follows it."""
        if not self._seekable:
            return False
        try:
            self._goto(len(self._times) - 1)
        except (RuntimeError, ValueError):
            return False
        return not self._cap.grab()

    # -- decoding -------------------------------------------------------------------------
    def _identify(self) -> int | None:
        """Index of the frame last grabbed, found by its timestamp (None if unknown)."""
        if not self._seekable:
            return None
        t = self._cap.get(cv2.CAP_PROP_POS_MSEC)
        k = int(np.searchsorted(self._times, t))
        near = [j for j in (k - 1, k) if 0 <= j < len(self._times)]
        best = min(near, key=lambda j: abs(self._times[j] - t))
        return best if abs(self._times[best] - t) <= self._tolerance else None

    def _grab(self) -> bool:
        if not self._cap.grab():
            return False
        found = self._identify()
        self._pos = self._pos + 1 if found is None else found
        return True

    def _retrieve(self, index: int) -> np.ndarray:
        """Convert the grabbed frame (``index``) to RGB and keep it in the decoded window."""
        ok, bgr = self._cap.retrieve()
        if not ok or bgr is None:
            raise RuntimeError(f"frame {index} of {self.path!r} could not be decoded")
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        self._decoded[index] = rgb
        while len(self._decoded) > self._window:
            self._decoded.popitem(last=False)
        return rgb

    def _rewind(self) -> None:
        self._cap.release()
        self._cap = self._open_capture()
        self._pos = -1

    def _advance(self, index: int) -> None:
        while self._pos < index:
            if not self._grab():
                raise RuntimeError(f"decoding {self.path!r} stopped before frame {index}")
        if self._pos != index:
            raise RuntimeError(f"frame {index} of {self.path!r} could not be decoded")

    def _goto(self, index: int) -> None:
        """Leave the decoder with frame ``index`` grabbed (not yet retrieved)."""
        if self._pos == index:
            return
        near = index - self._pos <= self.FORWARD_DECODE_LIMIT
        if self._pos < index and (near or not self._seekable):
            self._advance(index)
            return
        if self._seekable:
            target = index
            for _ in range(3):
                self._cap.set(cv2.CAP_PROP_POS_FRAMES, target)
                landed = self._identify() if self._cap.grab() else None
                if landed is not None and landed <= index:
                    self._pos = landed
                    self._advance(index)
                    return
                # The seek missed (landed late, or nowhere): retry from further back.
                if target == 0:
                    break
                overshoot = 0 if landed is None else landed - index
                target = max(0, target - 2 * overshoot - self.FORWARD_DECODE_LIMIT)
        self._rewind()
        self._advance(index)

    def _load(self, index: int) -> np.ndarray:
        if self._closed:
            raise ValueError(f"the video {self.path!r} was closed")
        if self._cap is None:
            self._cap = self._open_capture()
            self._pos = -1
        frame = self._decoded.get(index)
        if frame is not None:
            self._decoded.move_to_end(index)
            return frame
        # Going backwards costs a seek: decode a window ending at ``index`` so that the
        # next reads in reverse order are served from memory.
        start = max(0, index - self._window + 1) if index < self._pos else index
        self._goto(start)
        frame = self._retrieve(start)
        while self._pos < index:
            self._advance(self._pos + 1)
            frame = self._retrieve(self._pos)
        self._decoded.move_to_end(index)
        return frame

    def close(self) -> None:
        """Release the decoder; the source cannot be read afterwards."""
        with self._lock:
            super().close()
            self._closed = True
            if self._cap is not None:
                self._cap.release()
                self._cap = None
            self._decoded.clear()

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        state.update(_cap=None, _pos=-1, _decoded=OrderedDict())
        return state

    def __repr__(self) -> str:
        return f"{super().__repr__()[:-1]}, path={self.path!r})"
