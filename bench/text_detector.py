"""The text detector's time on one 720p frame ("Find by text", sam2.text_boxes).

    python -m bench.text_detector                          # Grounding DINO tiny's architecture
    python -m bench.text_detector --detector FOLDER_OR_ID  # a detector that is here
    python -m bench.text_detector --precisions fp32 bf16 --repeats 5

Without ``--detector`` the default detector is used when its weights are in the Hugging Face
cache; otherwise (this machine cannot download them) its architecture is built with random
weights: transformers' Grounding DINO defaults are grounding-dino-tiny's (Swin-T image
backbone, BERT-base text encoder, 6 + 6 layers, 900 queries, frames resized to 800 px on the
short side). A forward pass costs the same whatever the weights. The frame is the first of
../shared/data/dog.mp4 (1280x720) when it is there. Prints the median seconds per frame of
``find_boxes`` (preprocessing, the model, the boxes) for each precision, and the same frame's
SAM 2.1 tiny image encoding at 1024 px as a yardstick measured in the same run.
"""

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from oracle.paths import SHARED_DATA
from sam2.text_boxes import DEFAULT_DETECTOR, TextDetector, TextDetectorError

PHRASES = "dog, person, ball"


def first_frame(video: Path) -> np.ndarray:
    """(720, 1280, 3) uint8 RGB: the video's first frame, or noise when it is absent."""
    if video.is_file():
        import av

        with av.open(str(video)) as container:
            return next(container.decode(video=0)).to_ndarray(format="rgb24")
    return np.random.default_rng(0).integers(0, 255, (720, 1280, 3), dtype=np.uint8)


def architecture_of_the_default(folder: Path) -> Path:
    """Grounding DINO tiny's architecture with random weights, saved in ``folder`` (a BERT
    vocabulary of the real size whose words are made up, but for the phrases')."""
    from transformers import (BertTokenizerFast, GroundingDinoConfig, GroundingDinoForObjectDetection,
                              GroundingDinoImageProcessor, GroundingDinoProcessor)

    if (folder / "config.json").is_file():
        return folder
    torch.manual_seed(0)
    config = GroundingDinoConfig()
    GroundingDinoForObjectDetection(config).save_pretrained(folder)
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ",", "dog", "person", "ball"]
    words += [f"word{i}" for i in range(config.text_config.vocab_size - len(words))]
    tokenizer = BertTokenizerFast(vocab={word: index for index, word in enumerate(words)})
    GroundingDinoProcessor(image_processor=GroundingDinoImageProcessor(), tokenizer=tokenizer).save_pretrained(folder)
    return folder


def load(detector: str) -> TextDetector:
    try:
        return TextDetector(detector)
    except TextDetectorError:
        if detector != DEFAULT_DETECTOR:
            raise
    from oracle.paths import CACHE

    print(f"{DEFAULT_DETECTOR} is not here: its architecture with random weights")
    return TextDetector(str(architecture_of_the_default(CACHE / "grounding-dino-tiny-architecture")))


def timed(call, repeats: int) -> float:
    """Median seconds of ``call`` over ``repeats`` runs after one warm-up."""
    call()
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--detector", default=DEFAULT_DETECTOR, help="model id or folder")
    parser.add_argument("--video", default=str(SHARED_DATA / "dog.mp4"), help="its first frame is detected on")
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from sam2.build_sam import build_sam2

    frame = first_frame(Path(args.video))
    detector = load(args.detector)
    sam2 = build_sam2("sam2.1_hiera_t", device="cpu")
    image = torch.from_numpy(frame).permute(2, 0, 1)[None].float() / 255
    image = torch.nn.functional.interpolate(image, size=(1024, 1024), mode="bilinear")
    print(f"{torch.get_num_threads()} torch threads, torch {torch.__version__}; frame {frame.shape[1]}x{frame.shape[0]}, "
          f"phrases {PHRASES!r}; detector {detector.model_id} "
          f"({sum(p.numel() for p in detector.model.parameters()) / 1e6:.1f}M parameters)")
    print("| precision | detector s/frame | SAM 2.1 tiny image encoder s/frame (1024 px) | ratio |")
    print("|---|---|---|---|")
    for precision in args.precisions:
        dtype = torch.bfloat16 if precision == "bf16" else torch.float32

        def detect():
            with torch.autocast("cpu", dtype=dtype, enabled=dtype != torch.float32):
                return detector.find(frame, PHRASES)

        def encode():
            with torch.inference_mode(), torch.autocast("cpu", dtype=dtype, enabled=dtype != torch.float32):
                return sam2.forward_image(image)

        found, encoder = timed(detect, args.repeats), timed(encode, args.repeats)
        print(f"| {precision} | {found:.2f} | {encoder:.2f} | {found / encoder:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
