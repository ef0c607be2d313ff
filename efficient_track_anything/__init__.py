"""EfficientTAM's official import paths, served by this project's ``sam2`` engine.

Code written for the official ``efficient_track_anything`` package (its builders, predictor
classes, config names and hub ids) runs unchanged against our implementation.
"""
