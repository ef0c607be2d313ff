"""EfficientTAM's efficient memory cross-attention: landmarks instead of every memory token.

When a step attends to more than one stored frame, each frame's keys and values are averaged
over 2 x 2 cells of its grid, so the layers attend to a quarter of the spatial tokens; object
pointers are kept whole. A landmark stands for four tokens, so it weighs log(4) more: either
added to its attention score ("scores", EfficientTAM's first variant) or, as the second variant
does, added to every channel of the landmark key ("key channels").
"""

import math
from dataclasses import dataclass
from typing import Optional, Tuple

import torch

from .attention import RotaryLayout

LANDMARK_SCORE_SHIFT = "scores"
LANDMARK_KEY_SHIFT = "key channels"


@dataclass(frozen=True)
class LandmarkPooling:
    """How landmarks are weighed (``LANDMARK_SCORE_SHIFT`` or ``LANDMARK_KEY_SHIFT``) and the
    side of the pooled cells."""

    shift: str
    cell: int = 2

    def __post_init__(self) -> None:
        if self.shift not in (LANDMARK_SCORE_SHIFT, LANDMARK_KEY_SHIFT):
            raise ValueError(f"unknown landmark shift {self.shift!r}")

    @property
    def log_cell_area(self) -> float:
        return 2 * math.log(self.cell)

    def applies(self, spatial_tokens: int, query_grid: Tuple[int, int]) -> bool:
        """Whether the memory is pooled: it holds more spatial tokens than there are queries."""
        return spatial_tokens > query_grid[0] * query_grid[1]

    def pooled(self, tokens: torch.Tensor, layout: RotaryLayout, num_pointers: int) -> torch.Tensor:
        """(B, F * h * w + P, C) tokens of F frames' grids and P pointers -> (B, F * h/2 * w/2 + P, C):
        each frame's grid averaged over cells (trailing odd rows and columns dropped)."""
        batch, count, channels = tokens.shape
        rows, cols = layout.grid
        spatial = count - num_pointers
        grids = tokens[:, :spatial].reshape(batch * (spatial // layout.grid_tokens), rows, cols, channels)
        cell = self.cell
        kept_rows, kept_cols = rows // cell * cell, cols // cell * cell
        cells = grids[:, :kept_rows, :kept_cols].reshape(-1, rows // cell, cell, cols // cell, cell, channels)
        landmarks = cells.mean(dim=(2, 4)).reshape(batch, -1, channels)
        return torch.cat([landmarks, tokens[:, spatial:]], dim=1)

    def pooled_keys(self, keys: torch.Tensor, layout: RotaryLayout, num_pointers: int) -> torch.Tensor:
        """Rotated keys (B, M, C) -> landmark keys followed by the pointer keys; shifted when
        the shift goes to key channels."""
        pooled = self.pooled(keys, layout, num_pointers)
        if self.shift == LANDMARK_KEY_SHIFT:
            pooled[:, : pooled.shape[1] - num_pointers] += self.log_cell_area
        return pooled

    def score_bias(self, values: torch.Tensor, num_pointers: int) -> Optional[torch.Tensor]:
        """(M,) added to the attention scores of the M pooled keys of ``values`` (B, M, C), or
        None when scores are not shifted."""
        if self.shift != LANDMARK_SCORE_SHIFT:
            return None
        num_keys = values.shape[1]
        bias = torch.zeros(num_keys, dtype=values.dtype, device=values.device)
        bias[: num_keys - num_pointers] = self.log_cell_area
        return bias
