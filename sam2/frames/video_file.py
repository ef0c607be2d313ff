"""Video files as frame sources: PyAV (FFmpeg) decoding on demand with exact frame indexing."""

from __future__ import annotations

import os
import struct
from collections import OrderedDict
from typing import Iterator, Optional

import av
import numpy as np

from ..runtime.memory_policy import DEFAULT_MEMORY_POLICY
from .color import DEFAULT_PEAK_NITS, ColorInfo, to_sdr_bt709
from .source import VIDEO_EXTENSIONS, FrameSource

_PQ, _HLG, _BT2020 = 16, 18, 9  # AVColorTransferCharacteristic / AVColorPrimaries values


def _peak_nits(frame: av.VideoFrame) -> float:
    """The content's brightest light from its HDR side data (content light level first)."""
    data = {entry.type.name: bytes(entry) for entry in frame.side_data}
    light = data.get("CONTENT_LIGHT_LEVEL", b"")
    if len(light) >= 8 and struct.unpack_from("<I", light)[0] > 0:
        return float(struct.unpack_from("<I", light)[0])
    mastering = data.get("MASTERING_DISPLAY_METADATA", b"")
    if len(mastering) >= 88:
        num, den, _, has_luminance = struct.unpack_from("<2i2i", mastering, 72)
        if has_luminance and den > 0 and num > 0:
            return num / den
    return DEFAULT_PEAK_NITS


def _color_info(frame: av.VideoFrame) -> ColorInfo:
    """What the frame's tags say about its transfer, primaries and peak."""
    transfer = {_PQ: "PQ", _HLG: "HLG"}.get(int(frame.color_trc), "SDR")
    peak = _peak_nits(frame) if transfer != "SDR" else DEFAULT_PEAK_NITS
    return ColorInfo(transfer, int(frame.color_primaries) == _BT2020, peak)


class VideoFileSource(FrameSource):
    """A video file decoded on demand with PyAV (FFmpeg's decoders, dav1d for AV1).

    At open, the frame count and each frame's timestamp come from one pass over the packets
    (no decoding), confirmed by decoding the last frame; if that fails, the file is decoded
    once without keeping frames. Reads continue the decoder when they go forward; otherwise
    they seek to the keyframe before the target and decode forward, recognising frames by
    their timestamps. A backward read also keeps the few frames before the target, so reading
    in reverse seeks once per window, not per frame. Memory: the model-input cache, a window
    of decoded frames bounded by ``decoded_cache_bytes`` (at least one frame) and one
    timestamp per frame. Frames come out upright (the rotation tag is applied and kept in
    ``rotation``, degrees clockwise) and as SDR BT.709 RGB: HDR (PQ/HLG) frames are
    tone-mapped (``hdr_transfer`` says which) and BT.2020 colours converted.
    ``frames_decoded`` counts the frames the decoder produced. A pickled copy keeps the
    metadata and opens its own decoder at its first read.
    """

    #: Forward jumps up to this many frames decode through instead of seeking.
    FORWARD_DECODE_LIMIT = 48
    #: Upper bound on the number of decoded frames kept.
    MAX_DECODED_FRAMES = 32

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        cache_size: int = DEFAULT_MEMORY_POLICY.model_input_cache_frames,
        decoded_cache_bytes: int = DEFAULT_MEMORY_POLICY.decoded_cache_bytes,
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
        self._cap: Optional[av.container.InputContainer] = self._open_container()
        self._frames: Optional[Iterator[av.VideoFrame]] = None
        self._frame: Optional[av.VideoFrame] = None  # the frame last grabbed (index _pos)
        self._closed = False
        self._pos = -1  # index of the frame last grabbed (-1: none yet)
        self._decoded: OrderedDict[int, np.ndarray] = OrderedDict()  # index -> RGB frame
        self._window = 1
        self.frames_decoded = 0
        self._set_timestamps(None)
        try:
            self._init_metadata(decoded_cache_bytes)
        except BaseException:
            self._cap.close()
            raise

    # -- opening --------------------------------------------------------------------------
    def _open_container(self) -> av.container.InputContainer:
        try:
            container = av.open(self.path, metadata_errors="ignore")
        except (av.FFmpegError, UnicodeDecodeError) as error:
            raise ValueError(
                f"cannot read video file {self.path!r}: it is empty, corrupt or in an "
                f"unsupported format ({error})"
            ) from error
        if not container.streams.video:
            container.close()
            raise ValueError(f"cannot read video file {self.path!r}: it has no video stream")
        container.streams.video[0].thread_type = "AUTO"
        return container

    def _init_metadata(self, decoded_cache_bytes: int) -> None:
        stream = self._cap.streams.video[0]
        #: What the container claims (the stream's frame count); may be wrong, 0 if unknown.
        self.container_frame_count = max(int(stream.frames or 0), 0)
        self._time_base = float(stream.time_base or 0.0)
        rates = (stream.average_rate, stream.guessed_rate)
        if not self._grab():
            raise ValueError(
                f"cannot read video file {self.path!r}: no frame could be decoded (the file may be "
                "damaged or use an unsupported codec)"
            )
        first = self._frame
        self._turns = (int(first.rotation) // 90) % 4  # quarter turns counter-clockwise
        self.rotation = (-90 * self._turns) % 360
        self._color = _color_info(first)
        #: "PQ" or "HLG" when the frames are tone-mapped from HDR to SDR, else None.
        self.hdr_transfer: Optional[str] = self._color.hdr
        rgb = self._retrieve(0)
        self.video_height, self.video_width = rgb.shape[:2]
        self._window = int(np.clip(decoded_cache_bytes // rgb.nbytes, 1, self.MAX_DECODED_FRAMES))

        self._set_timestamps(self._scan_timestamps(decode=False))
        if not self._last_frame_checks_out():
            self._set_timestamps(self._scan_timestamps(decode=True))
        self._rewind()
        self.num_frames = len(self._pts)
        if self.num_frames == 0:
            raise ValueError(
                f"cannot read video file {self.path!r}: no frame could be decoded (the file may be "
                "damaged or use an unsupported codec)"
            )
        self.fps = self._frame_rate(rates)

    def _frame_rate(self, rates: tuple) -> Optional[float]:
        """The first plausible stream rate, else the mean rate of the timestamps."""
        for rate in rates:
            if rate and 0 < float(rate) <= 1000:
                return float(rate)
        times = self.frame_times()
        if self.num_frames > 1 and times[-1] > 0:
            return (self.num_frames - 1) / float(times[-1])
        return None

    def _scan_timestamps(self, decode: bool) -> Optional[np.ndarray]:
        """Presentation timestamps of all frames in order, from packets (fast) or by decoding.

        Without decoding, None when there are none or some frame has none; when decoding, a
        frame without one makes them all -1 (counted, not identifiable)."""
        container = self._open_container()
        stamps: list[Optional[int]] = []
        try:
            stream = container.streams.video[0]
            items = container.decode(stream) if decode else container.demux(stream)
            for item in items:
                if decode or (item.size and not item.is_corrupt):
                    stamps.append(item.pts)
        except av.FFmpegError:
            pass  # a damaged or cut file: keep the timestamps read before the damage
        finally:
            container.close()
        if any(s is None for s in stamps):
            return np.full(len(stamps), -1, np.int64) if decode else None
        # Packets arrive in decoding order; frames are shown in timestamp order.
        return np.sort(np.asarray(stamps, np.int64)) if stamps else None

    def _set_timestamps(self, stamps: Optional[np.ndarray]) -> None:
        self._pts = np.zeros(0, np.int64) if stamps is None else stamps
        # Timestamps can identify frames only when they strictly increase.
        self._seekable = bool(len(self._pts) > 0 and np.all(np.diff(self._pts) > 0))
        self._index_of = {int(p): k for k, p in enumerate(self._pts)} if self._seekable else {}

    def frame_times(self) -> np.ndarray:
        """Each frame's presentation time in seconds from the first frame's (from the file)."""
        if not self._seekable or self._time_base <= 0:
            return super().frame_times()
        return (self._pts - self._pts[0]).astype(np.float64) * self._time_base

    def _last_frame_checks_out(self) -> bool:
        """Decode the last counted frame and make sure nothing follows it."""
        if not self._seekable:
            return False
        try:
            self._goto(len(self._pts) - 1)
        except (RuntimeError, ValueError):
            return False
        return self._next_frame() is None

    # -- decoding -------------------------------------------------------------------------
    def _next_frame(self) -> Optional[av.VideoFrame]:
        """The decoder's next frame, or None at the end (or where the file is damaged)."""
        if self._frames is None:
            self._frames = self._cap.decode(video=0)
        try:
            frame = next(self._frames)
        except (StopIteration, av.FFmpegError):
            return None
        self.frames_decoded += 1
        return frame

    def _grab(self) -> bool:
        frame = self._next_frame()
        if frame is None:
            return False
        found = self._index_of.get(frame.pts) if frame.pts is not None else None
        self._pos = self._pos + 1 if found is None else found
        self._frame = frame
        return True

    def _to_rgb(self, frame: av.VideoFrame) -> np.ndarray:
        """(H, W, 3) uint8 SDR BT.709 RGB of ``frame``, upright."""
        color_range = frame.color_range or None
        if self._color.hdr or self._color.bt2020:
            coded = frame.to_ndarray(format="rgb48le", src_color_range=color_range)
            rgb = to_sdr_bt709(coded, self._color)
        else:
            rgb = frame.to_ndarray(format="rgb24", src_color_range=color_range)
        return np.ascontiguousarray(np.rot90(rgb, self._turns)) if self._turns else rgb

    def _retrieve(self, index: int) -> np.ndarray:
        """Convert the grabbed frame (``index``) to RGB and keep it in the decoded window."""
        if self._frame is None:
            raise RuntimeError(f"frame {index} of {self.path!r} could not be decoded")
        rgb = self._to_rgb(self._frame)
        self._decoded[index] = rgb
        while len(self._decoded) > self._window:
            self._decoded.popitem(last=False)
        return rgb

    def _rewind(self) -> None:
        self._cap.close()
        self._cap = self._open_container()
        self._frames, self._frame, self._pos = None, None, -1

    def _advance(self, index: int) -> None:
        while self._pos < index:
            if not self._grab():
                raise RuntimeError(f"decoding {self.path!r} stopped before frame {index}")
        if self._pos != index:
            raise RuntimeError(f"frame {index} of {self.path!r} could not be decoded")

    def _seek_before(self, target: int) -> Optional[int]:
        """Seek to the keyframe at or before frame ``target``; index of the frame landed on."""
        try:
            self._cap.seek(int(self._pts[target]), stream=self._cap.streams.video[0])
        except av.FFmpegError:
            return None
        self._frames, self._frame, self._pos = None, None, -1
        frame = self._next_frame()
        landed = None if frame is None or frame.pts is None else self._index_of.get(frame.pts)
        if landed is not None:
            self._frame, self._pos = frame, landed
        return landed

    def _goto(self, index: int) -> None:
        """Leave the decoder with frame ``index`` grabbed (not yet converted)."""
        if self._pos == index:
            return
        near = index - self._pos <= self.FORWARD_DECODE_LIMIT
        if self._pos < index and (near or not self._seekable):
            self._advance(index)
            return
        if self._seekable:
            target = index
            for _ in range(3):
                landed = self._seek_before(target)
                if landed is not None and landed <= index:
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
            self._cap = self._open_container()
            self._frames, self._frame, self._pos = None, None, -1
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
                self._cap.close()
                self._cap = None
            self._frames, self._frame = None, None
            self._decoded.clear()

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        state.update(_cap=None, _frames=None, _frame=None, _pos=-1, _decoded=OrderedDict())
        return state

    def __repr__(self) -> str:
        return f"{super().__repr__()[:-1]}, path={self.path!r})"
