"""Video object segmentation on datasets: folder layouts, J and F scores, evaluation reports."""
