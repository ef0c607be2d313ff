"""Boxes of named things on a frame, found from words, ready for SAM 2's box prompts.

    from sam2.text_boxes import find_boxes

    for number, found in enumerate(find_boxes(frame, "dog, ball"), start=1):
        predictor.add_new_points_or_box(state, frame_idx, number, box=found.box)

An open-vocabulary detector runs through transformers' zero-shot object detection API
(``AutoModelForZeroShotObjectDetection`` and ``AutoProcessor``): Grounding DINO tiny by default
(``IDEA-Research/grounding-dino-tiny``, Apache-2.0), or any other such model id or local folder
(OWLv2, ...). Weights come from the Hugging Face Hub cache or a folder; with ``HF_HUB_OFFLINE=1``
nothing is downloaded. transformers is an optional dependency: ``pip install .[text]``.
"""

import functools
import os
import re
from dataclasses import dataclass
from typing import Any, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torchvision.ops import batched_nms

from .tracking.motion import box_iou

DEFAULT_DETECTOR = "IDEA-Research/grounding-dino-tiny"
# Least detection score kept (Grounding DINO's demos keep boxes above 0.35 and words above 0.25).
DEFAULT_THRESHOLD = 0.3
# Boxes of one phrase that overlap more than this (IoU) are one thing: the best is kept.
SAME_THING_IOU = 0.5
# A found box is a thing already tracked when its IoU with that thing's mask box reaches this.
NEW_THING_IOU = 0.5
# Model types whose text is one prompt of phrases ended by " ." (Grounding DINO's way).
GROUNDED_TYPES = ("grounding-dino", "mm-grounding-dino")
INSTALL_HINT = "pip install transformers (or, in this checkout, pip install .[text])"


class TextDetectorError(RuntimeError):
    """The text detector cannot run: not installed, not downloaded, or not a detector."""


@dataclass(frozen=True)
class FoundBox:
    """A thing found on a frame: the phrase it matches, the detector's score, and its box
    (x0, y0, x1, y1) in frame pixels, as ``add_new_points_or_box(box=...)`` takes it."""

    phrase: str
    score: float
    box: Tuple[float, float, float, float]


def parse_phrases(text: Union[str, Sequence[str]]) -> List[str]:
    """'Dog, a red ball;; dog' -> ['dog', 'a red ball']: phrases separated by commas,
    semicolons, periods or new lines, trimmed, lower-cased, each once. ValueError if none."""
    parts = re.split(r"[,;.\n]", text) if isinstance(text, str) else list(text)
    phrases = list(dict.fromkeys(" ".join(part.split()).lower() for part in parts if part and part.strip()))
    if not phrases:
        raise ValueError("type what to find: one or more phrases separated by commas (e.g. 'dog, ball')")
    return phrases


def phrase_positions(offsets: Sequence[Tuple[int, int]], spans: Sequence[Tuple[int, int]]) -> List[List[int]]:
    """The token positions of each phrase: ``offsets`` (start, end) characters of every token
    of the prompt (special tokens (0, 0)), ``spans`` (start, end) of each phrase in it."""
    return [[i for i, (a, b) in enumerate(offsets) if b > a and a >= start and b <= end] for start, end in spans]


def boxes_from_scores(
    phrase_scores: torch.Tensor, boxes: torch.Tensor, size: Tuple[int, int], phrases: Sequence[str], threshold: float
) -> List[FoundBox]:
    """Detections -> found boxes, best first. phrase_scores (Q, P) each query's score for each
    phrase; boxes (Q, 4) (x0, y0, x1, y1) in pixels of a frame of ``size`` (H, W). A query goes
    to its best phrase if that score reaches ``threshold``; overlapping boxes of one phrase are
    one thing."""
    if phrase_scores.numel() == 0:
        return []
    scores, labels = phrase_scores.float().max(dim=1)
    keep = scores >= threshold
    height, width = size
    limits = torch.tensor([width, height, width, height], dtype=torch.float32)
    boxes = torch.minimum(boxes.float().clamp(min=0), limits)[keep]
    scores, labels = scores[keep], labels[keep]
    chosen = batched_nms(boxes, scores, labels, SAME_THING_IOU)
    return [
        FoundBox(phrases[int(labels[i])], float(scores[i]), tuple(float(v) for v in boxes[i]))
        for i in chosen.tolist()
        if boxes[i, 2] > boxes[i, 0] and boxes[i, 3] > boxes[i, 1]
    ]


def mask_box(mask: np.ndarray) -> Optional[Tuple[float, float, float, float]]:
    """(x0, y0, x1, y1) around an (H, W) bool mask, in pixel edges (None: empty)."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not len(rows):
        return None
    return float(cols[0]), float(rows[0]), float(cols[-1] + 1), float(rows[-1] + 1)


def new_things(found: Sequence[FoundBox], masks: Mapping[Any, np.ndarray]) -> List[FoundBox]:
    """The found boxes that are no tracked object (``masks``: each object's (H, W) bool mask on
    the frame): a box is new when its IoU with every object's mask box, and with every new box
    kept before it (best first), is below NEW_THING_IOU (Grounded-SAM-2's continuous mode
    compares masks the same way; boxes need no extra model call)."""
    taken = [box for box in (mask_box(mask) for mask in masks.values()) if box is not None]
    fresh = []
    for candidate in found:
        if all(box_iou(candidate.box, box) < NEW_THING_IOU for box in taken):
            fresh.append(candidate)
            taken.append(candidate.box)
    return fresh


class TextDetector:
    """An open-vocabulary detector (a transformers model id or folder) on a device."""

    def __init__(self, model_id: str = DEFAULT_DETECTOR, device: Union[str, torch.device] = "cpu",
                 local_files_only: bool = False) -> None:
        try:
            import transformers
        except ImportError as error:
            raise TextDetectorError(f"finding objects by text needs the transformers package: {INSTALL_HINT}") from error
        self.model_id = model_id
        self.device = torch.device(device)
        try:
            self.processor = transformers.AutoProcessor.from_pretrained(model_id, local_files_only=local_files_only)
            self.model = transformers.AutoModelForZeroShotObjectDetection.from_pretrained(
                model_id, local_files_only=local_files_only)
        except (OSError, ValueError) as error:
            raise TextDetectorError(self._unavailable(model_id, error)) from error
        self.model.to(self.device).eval()
        self.grounded = self.model.config.model_type in GROUNDED_TYPES

    @staticmethod
    def _unavailable(model_id: str, error: Exception) -> str:
        if os.path.isdir(model_id):
            return f"the folder {model_id} does not hold a zero-shot object detector ({type(error).__name__}: {error})"
        if os.path.isabs(model_id) or model_id.startswith((".", "~")):
            return f"there is no folder {model_id} (a text detector is a Hugging Face model id or a saved folder)"
        if isinstance(error, ValueError):  # loaded, but of a kind the zero-shot detection API does not serve
            return (f"{model_id} is not a zero-shot object detector that transformers' "
                    f"AutoModelForZeroShotObjectDetection serves ({error})")
        return (f"the text detector {model_id} is not downloaded and could not be fetched from the Hugging Face Hub "
                f"({type(error).__name__}). Download it where there is a network (huggingface-cli download "
                f"{model_id}) or give the folder of a saved detector")

    @torch.inference_mode()
    def find(self, frame: np.ndarray, phrases: Union[str, Sequence[str]],
             threshold: float = DEFAULT_THRESHOLD) -> List[FoundBox]:
        """The things named by ``phrases`` (see :func:`parse_phrases`) on an (H, W, 3) uint8 RGB
        frame, best first."""
        phrases = parse_phrases(phrases)
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be between 0 and 1, got {threshold!r}")
        frame = np.ascontiguousarray(frame)
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"frame must be an (H, W, 3) uint8 RGB array, got {frame.dtype} {frame.shape}")
        size = frame.shape[:2]
        if self.grounded:
            scores, boxes = self._grounded(frame, phrases)
        else:
            scores, boxes = self._per_phrase(frame, phrases)
        height, width = size
        boxes = boxes * torch.tensor([width, height, width, height], dtype=torch.float32)
        return boxes_from_scores(scores, boxes, size, phrases, threshold)

    def _grounded(self, frame: np.ndarray, phrases: List[str]) -> Tuple[torch.Tensor, torch.Tensor]:
        """Grounding DINO: one prompt "dog . red ball ."; a query's score for a phrase is its
        highest over the phrase's tokens -> (Q, P) scores, (Q, 4) boxes in frame fractions."""
        prompt, spans = "", []
        for phrase in phrases:
            spans.append((len(prompt), len(prompt) + len(phrase)))
            prompt += phrase + " . "
        prompt = prompt.strip()
        inputs = self.processor(images=frame, text=prompt, return_tensors="pt")
        offsets = self.processor.tokenizer(prompt, return_offsets_mapping=True)["offset_mapping"]
        outputs = self.model(**_on(inputs, self.device))
        token_scores = outputs.logits[0].sigmoid().float().cpu()  # (Q, T)
        positions = phrase_positions(offsets, spans)
        scores = torch.stack([
            token_scores[:, cols].max(dim=1).values if cols else torch.zeros(len(token_scores)) for cols in positions
        ], dim=1)
        return scores, _corners(outputs.pred_boxes[0].float().cpu())

    def _per_phrase(self, frame: np.ndarray, phrases: List[str]) -> Tuple[torch.Tensor, torch.Tensor]:
        """Detectors that score each phrase as a query of its own (OWL-ViT, OWLv2)."""
        inputs = self.processor(text=[phrases], images=frame, return_tensors="pt")
        outputs = self.model(**_on(inputs, self.device))
        scores = outputs.logits[0].sigmoid().float().cpu()  # (Q, P)
        boxes = _corners(outputs.pred_boxes[0].float().cpu())
        if self.model.config.model_type == "owlv2":  # it pads frames to a square: boxes are fractions of that
            height, width = frame.shape[:2]
            side = max(height, width)
            boxes = boxes * torch.tensor([side / width, side / height, side / width, side / height])
        return scores, boxes


def _on(inputs: Any, device: torch.device) -> dict:
    return {name: value.to(device) if isinstance(value, torch.Tensor) else value for name, value in inputs.items()}


def _corners(centred: torch.Tensor) -> torch.Tensor:
    """(Q, 4) (cx, cy, w, h) -> (x0, y0, x1, y1)."""
    cx, cy, w, h = centred.unbind(-1)
    return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=-1)


@functools.lru_cache(maxsize=2)
def load_detector(model_id: str = DEFAULT_DETECTOR, device: str = "cpu", local_files_only: bool = False) -> TextDetector:
    """A detector, loaded once per model id and device (``local_files_only``: never download)."""
    return TextDetector(model_id, device, local_files_only)


def find_boxes(
    frame: np.ndarray, phrases: Union[str, Sequence[str]], threshold: float = DEFAULT_THRESHOLD,
    detector: Union[str, TextDetector] = DEFAULT_DETECTOR, device: str = "cpu",
) -> List[FoundBox]:
    """The things named by ``phrases`` ("dog, ball" or a list) on an (H, W, 3) uint8 RGB frame,
    best first, each with its phrase, score and box in frame pixels; ``detector`` is a model
    id, a folder or a loaded :class:`TextDetector`."""
    if isinstance(detector, str):
        detector = load_detector(detector, str(device))
    return detector.find(frame, phrases, threshold)
