"""Object colours: distinct, stable per object id, shared by overlays and DAVIS-style PNGs."""

from typing import Tuple

# Qualitative colours (RGB) chosen to stay distinguishable on video and from each other.
OBJECT_COLORS: Tuple[Tuple[int, int, int], ...] = (
    (255, 64, 64), (64, 160, 255), (255, 200, 0), (160, 90, 255), (0, 200, 120), (255, 120, 200),
    (0, 210, 210), (255, 140, 40), (140, 220, 60), (120, 120, 255), (210, 80, 140), (90, 180, 160),
    (230, 230, 120), (180, 120, 70), (100, 100, 100), (250, 250, 250),
)
POSITIVE_POINT = (40, 220, 60)
NEGATIVE_POINT = (235, 40, 40)
# Boxes that "Find by text" offers (not yet objects).
FOUND_BOX = (250, 210, 40)


def object_color(obj_id: int) -> Tuple[int, int, int]:
    """Colour of object ``obj_id`` (ids start at 1)."""
    return OBJECT_COLORS[(obj_id - 1) % len(OBJECT_COLORS)]


def indexed_palette() -> list:
    """A 256-entry flat RGB palette: index 0 black background, index i the colour of object i."""
    flat = [0, 0, 0]
    for index in range(1, 256):
        flat.extend(object_color(index))
    return flat
