"""Export: masks as PNGs, DAVIS palette PNGs and COCO RLE, the overlay video, and the extras
(cut-outs, mattes, the background blurred)."""

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from ..errors import UserError
from ..media import exports, media_exports
from ..sessions.session import Session
from .tracking import overlay_video, sound, window_stem

CUTOUTS, MATTES, BLURRED_BACKGROUND = "cut-outs", "mattes", "blurred background"
EXTRAS = (CUTOUTS, MATTES, BLURRED_BACKGROUND)


@dataclass(frozen=True)
class ExportFiles:
    overlay_video: Path
    mask_pngs: Path
    davis_pngs: Path
    coco_json: Path
    extras: Tuple[Path, ...] = ()  # cut-outs, mattes, the background effect, as asked

    def as_list(self) -> List[str]:
        return [str(p) for p in (self.overlay_video, self.mask_pngs, self.davis_pngs, self.coco_json, *self.extras)]


def _object_outputs(session: Session, obj_id: int, extras: Sequence[str]) -> Iterator[Path]:
    stem = f"{window_stem(session)}_{obj_id}_{exports.file_safe(session.objects.name(obj_id))}"
    frames, publish, fps = list(session.window), session.files.publish, session.video.fps

    def mask_of(frame_idx: int) -> Optional[np.ndarray]:
        return session.masks.unpacked(frame_idx).get(obj_id)

    if CUTOUTS in extras:
        yield publish(f"{stem}_cutout.webm",
                      lambda path: media_exports.write_cutout(path, frames, session.frames.read_rgb, mask_of, fps))
        yield publish(f"{stem}_cutout.zip",
                      lambda path: media_exports.write_cutout_pngs(path, frames, session.frames.read_rgb, mask_of))
    if MATTES in extras:
        yield publish(f"{stem}_matte.mp4",
                      lambda path: media_exports.write_matte(path, frames, mask_of, session.video.size, fps))


def extra_outputs(session: Session, extras: Sequence[str],
                  report: Callable[[str], None] = lambda text: None) -> List[Path]:
    """The extra exports asked for, over the window: per object a cut-out (WebM with alpha and
    RGBA PNGs) and a matte (white on black), and the video with the background blurred."""
    paths = []
    for obj_id in session.objects.ids:
        report(f"Writing the outputs of {session.objects.label(obj_id)}...")
        paths += _object_outputs(session, obj_id, extras)
    if BLURRED_BACKGROUND in extras:
        report("Writing the video with the background blurred...")
        paths.append(session.files.publish(
            f"{window_stem(session)}_blurred_background.mp4",
            lambda path: media_exports.write_background_effect(
                path, list(session.window), session.frames.read_rgb, session.masks.unpacked, session.video.fps,
                audio=sound(session))))
    return paths


def export_all(session: Session, extras: Sequence[str] = (),
               report: Callable[[str], None] = lambda text: None) -> ExportFiles:
    """Overlay video, per-object PNG masks, DAVIS indexed PNGs and COCO RLE JSON of the window's
    tracked frames, named by source frame number (the JSON also has each frame's time), then
    the ``extras`` asked for (see :func:`extra_outputs`)."""
    frames = session.tracked_frames()
    if not frames:
        raise UserError("Nothing to export yet: track the objects first.")
    unknown = set(extras) - set(EXTRAS)
    if unknown:
        raise UserError(f"Unknown export {sorted(unknown)[0]!r}: choose from {', '.join(EXTRAS)}.")
    report("Writing the overlay video, masks and COCO file...")
    stem = window_stem(session)
    names = {obj_id: session.objects.name(obj_id) for obj_id in session.objects.ids}
    masks_on, publish, video = session.masks.unpacked, session.files.publish, session.video
    facts = exports.VideoFacts(video.name, video.size, video.fps, video.frame_times)
    return ExportFiles(
        overlay_video=overlay_video(session),
        mask_pngs=publish(f"{stem}_masks.zip", lambda path: exports.write_mask_pngs(path, frames, masks_on, names)),
        davis_pngs=publish(f"{stem}_davis.zip",
                           lambda path: exports.write_davis_pngs(path, frames, masks_on, video.size)),
        coco_json=publish(f"{stem}_coco_rle.json",
                          lambda path: exports.write_coco_rle(path, frames, masks_on, facts, names)),
        extras=tuple(extra_outputs(session, extras, report)),
    )
