"""``EfficientTAMVideoPredictor``: the SAM 2 video predictor of this engine under its EfficientTAM name."""

from sam2.sam2_video_predictor import SAM2VideoPredictor as EfficientTAMVideoPredictor

__all__ = ["EfficientTAMVideoPredictor"]
