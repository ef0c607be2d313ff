"""Pieces of the automatic mask generator (``sam2.automatic_mask_generator``): where to click
(grids, crops), which masks to keep (scores, boxes, NMS) and how masks are stored (RLE)."""
