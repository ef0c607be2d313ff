"""The object list under the viewer: each object's colour swatch, number and name, and on how many
frames of the window it has a mask, the selected object marked. Its order is the timeline's row
order, and the colours are the rows' colours, so the list names the timeline's rows."""

import html
from dataclasses import dataclass
from typing import Sequence

from ..wording import plural
from .palette import object_color


@dataclass(frozen=True)
class ObjectEntry:
    """One object: its id, its label ("2: dog"), the frames of the window where it has a mask,
    whether clicks go to it, and the tracked frames where it was judged absent (an empty mask)."""

    obj_id: int
    label: str
    frames_with_mask: int
    selected: bool
    frames_absent: int = 0


@dataclass(frozen=True)
class ObjectList:
    """The session's objects in the timeline's row order, and the window's length in frames."""

    entries: Sequence[ObjectEntry]
    window_frames: int


def _coverage(entry: ObjectEntry, window_frames: int) -> str:
    if entry.frames_with_mask == 0:
        return "no mask yet"
    text = f"on {entry.frames_with_mask} of {plural(window_frames, 'frame')}"
    return text + (f", absent on {entry.frames_absent} (red)" if entry.frames_absent else "")


def object_list_html(objects: ObjectList) -> str:
    """The list as HTML: one chip per object (names escaped: they are the user's text)."""
    chips = []
    for entry in objects.entries:
        red, green, blue = object_color(entry.obj_id)
        weight = "font-weight:700;outline:2px solid currentColor;" if entry.selected else ""
        title = "clicks go to this object" if entry.selected else "choose it in Object to click for it"
        chips.append(
            f'<span class="object-chip" data-object="{entry.obj_id}" title="{title}" '
            f'style="display:inline-flex;align-items:center;gap:6px;margin:2px 10px 2px 0;padding:1px 8px;'
            f'border-radius:6px;{weight}">'
            f'<span style="width:14px;height:14px;border-radius:3px;background:rgb({red},{green},{blue})"></span>'
            f'{html.escape(entry.label)} <small style="opacity:.75">{_coverage(entry, objects.window_frames)}</small>'
            "</span>")
    return f'<div class="object-list">{"".join(chips)}</div>'
