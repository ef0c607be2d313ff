"""``EfficientTAMImagePredictor``: the SAM 2 image predictor of this engine under its EfficientTAM name."""

from sam2.sam2_image_predictor import SAM2ImagePredictor as EfficientTAMImagePredictor

__all__ = ["EfficientTAMImagePredictor"]
