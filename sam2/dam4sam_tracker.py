"""DAM4SAM's frame-by-frame tracker API on this engine: ``DAM4SAMTracker(tracker_name)``,
``initialize(image, init_mask=None, bbox=None)`` on the first frame, then ``track(image)`` once
per frame; each returns ``{"pred_mask": (H, W) uint8}``. One object, as in DAM4SAM's code.

Frames are PIL images (or (H, W, 3) uint8 RGB arrays). As DAM4SAM prepares them, each is
resized to the model's input size as a tensor (bilinear, antialiased; the aspect ratio is not
kept), not with PIL as video files are. A box prompt is (x, y, w, h); its mask comes from the
image decoder on the first frame (one mask, the stable one), then prompts the video as a mask.
Weights: ``checkpoint`` (a file), else the model's file in ``checkpoints/``, else the Hub.
"""

import os
from typing import Dict, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .assembly.hub import HubCheckpoint, download, hub_checkpoint
from .build_sam import build_sam2_video_predictor
from .frames.source import IMAGE_MEAN, IMAGE_STD, FrameSource
from .sam2_image_predictor import SAM2ImagePredictor

# tracker name -> the Hub model whose weights and config it runs (DAM4SAM adds no weights)
TRACKER_MODELS: Dict[str, str] = {
    "sam21pp-T": "facebook/sam2.1-hiera-tiny",
    "sam21pp-S": "facebook/sam2.1-hiera-small",
    "sam21pp-B": "facebook/sam2.1-hiera-base-plus",
    "sam21pp-L": "facebook/sam2.1-hiera-large",
    "sam2pp-T": "facebook/sam2-hiera-tiny",
    "sam2pp-S": "facebook/sam2-hiera-small",
    "sam2pp-B": "facebook/sam2-hiera-base-plus",
    "sam2pp-L": "facebook/sam2-hiera-large",
}
_MEAN = torch.tensor(IMAGE_MEAN).view(3, 1, 1)
_STD = torch.tensor(IMAGE_STD).view(3, 1, 1)


def _rgb(image) -> np.ndarray:
    array = np.array(image.convert("RGB") if isinstance(image, Image.Image) else image)
    if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
        raise ValueError(f"a frame must be a PIL image or an (H, W, 3) uint8 array, got {array.shape} {array.dtype}")
    return array


class StreamedFrames(FrameSource):
    """A video that grows one frame at a time; only the newest frame is kept."""

    def __init__(self, first: np.ndarray) -> None:
        super().__init__(cache_size=0)
        self.video_height, self.video_width = first.shape[:2]
        self.fps = None
        self.num_frames = 0
        self._newest: Optional[np.ndarray] = None
        self.append(first)

    def append(self, frame: np.ndarray) -> int:
        """Add the next frame; returns its index."""
        if frame.shape[:2] != (self.video_height, self.video_width):
            raise ValueError(f"frame of size {frame.shape[1]}x{frame.shape[0]} in a video of "
                             f"{self.video_width}x{self.video_height}")
        self._newest = frame
        self.num_frames += 1
        return self.num_frames - 1

    def _load(self, index: int) -> np.ndarray:
        if index != self.num_frames - 1:
            raise IndexError(f"frame {index} is gone: a streamed video keeps only its newest frame")
        return self._newest

    def model_input(self, index: int, image_size: int, keep: bool = True) -> torch.Tensor:
        """As DAM4SAM prepares a frame: [0, 1] floats resized as a tensor, then normalised."""
        pixels = torch.from_numpy(np.ascontiguousarray(self._load(self._check_index(index))))
        image = pixels.permute(2, 0, 1).float() / 255.0
        resized = F.interpolate(image[None], size=(image_size, image_size), mode="bilinear", align_corners=False,
                                antialias=True)[0]
        return (resized - _MEAN) / _STD


def _find_checkpoint(hub: HubCheckpoint, checkpoint: Optional[str]) -> str:
    if checkpoint is not None:
        return checkpoint
    local = os.path.join("checkpoints", hub.local_name)
    return local if os.path.isfile(local) else download(hub)


class DAM4SAMTracker:
    """DAM4SAM on this engine, one object tracked frame by frame (see the module's description)."""

    def __init__(self, tracker_name: str = "sam21pp-L", checkpoint: Optional[str] = None, device=None,
                 hydra_overrides_extra: Sequence[str] = ()) -> None:
        if tracker_name not in TRACKER_MODELS:
            raise ValueError(f"unknown tracker {tracker_name!r}; known: {', '.join(TRACKER_MODELS)}")
        hub = hub_checkpoint(TRACKER_MODELS[tracker_name])
        self.predictor = build_sam2_video_predictor(
            hub.config, _find_checkpoint(hub, checkpoint), device=device,
            hydra_overrides_extra=list(hydra_overrides_extra), tracker="dam4sam",
        )
        # DAM4SAM's code turns hole filling off.
        self.predictor.fill_hole_area = 0
        self.inference_state = None
        self.frame_index = -1

    def _mask_from_box(self, frame: np.ndarray, bbox) -> np.ndarray:
        x, y, w, h = (float(v) for v in bbox)
        images = SAM2ImagePredictor(self.predictor)
        images.set_image(frame)
        masks, _, _ = images.predict(box=np.array([x, y, x + w, y + h]), multimask_output=False)
        return masks[0] > 0

    @torch.inference_mode()
    def initialize(self, image, init_mask=None, bbox=None) -> Dict[str, np.ndarray]:
        """Start on ``image`` from ``init_mask`` ((H, W) binary; a list: its first) or, without
        one, ``bbox`` (x, y, w, h in pixels)."""
        if isinstance(init_mask, list):
            init_mask = init_mask[0]
        if init_mask is None and bbox is None:
            raise ValueError("initialize needs init_mask or bbox")
        frame = _rgb(image)
        if init_mask is None:
            init_mask = self._mask_from_box(frame, bbox)
        self.inference_state = self.predictor.init_state(StreamedFrames(frame))
        self.frame_index = 0
        _, _, logits = self.predictor.add_new_mask(self.inference_state, 0, 0, np.asarray(init_mask))
        return {"pred_mask": (logits[0, 0] > 0).cpu().numpy().astype(np.uint8)}

    @torch.inference_mode()
    def track(self, image, init: bool = False) -> Dict[str, np.ndarray]:
        """The object's mask on the next frame ``image`` (``init``: on the first frame again)."""
        if self.inference_state is None:
            raise RuntimeError("call initialize(image, init_mask or bbox) on the first frame first")
        state = self.inference_state
        if not init:
            self.frame_index = state.images.append(_rgb(image))
            state.num_frames = state.images.num_frames
        frames = self.predictor.propagate_in_video(state, start_frame_idx=self.frame_index, max_frame_num_to_track=0)
        _, _, logits = next(frames)
        frames.close()
        return {"pred_mask": (logits[0, 0] > 0).cpu().numpy().astype(np.uint8)}
