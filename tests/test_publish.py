"""Files handed to the browser appear only once whole, and a published picture is never
rewritten in place (Gradio's cache did that: a browser still fetching the earlier answer got
a truncated timeline, "Too little data for declared Content-Length")."""

import os

import numpy as np
import pytest
from PIL import Image

from tracker.media.publish import publish, publish_image
from tracker.sessions.session import SessionFiles


def test_a_file_is_at_its_name_only_once_written_whole(tmp_path):
    target = tmp_path / "video_overlay.mp4"
    seen = []

    def write(path):
        seen.append((path.suffix, path.parent, target.exists()))
        path.write_bytes(b"x" * 1000)

    assert publish(target, write) == target
    assert seen == [(".mp4", tmp_path, False)], "written beside the target under another name, same suffix"
    assert target.read_bytes() == b"x" * 1000 and os.listdir(tmp_path) == ["video_overlay.mp4"]


def test_a_failed_write_leaves_nothing(tmp_path):
    def write(path):
        path.write_bytes(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        publish(tmp_path / "masks.zip", write)
    assert os.listdir(tmp_path) == []


def test_session_outputs_are_published(tmp_path):
    (tmp_path / "work").mkdir()
    files = SessionFiles(tmp_path / "work", tmp_path / "served")
    names = []
    path = files.publish("clip_overlay.mp4", lambda partial: names.append(partial.name) or partial.write_bytes(b"v"))
    assert names != ["clip_overlay.mp4"] and path.name == "clip_overlay.mp4" and path.read_bytes() == b"v"
    assert path.parent.parent == tmp_path / "served"


def test_the_same_picture_is_the_same_file_written_once(tmp_path):
    timeline = np.random.default_rng(0).integers(0, 256, (40, 300, 3), dtype=np.uint8)
    first = publish_image(timeline, tmp_path, "timeline")
    written = first.stat()
    again = publish_image(timeline.copy(), tmp_path, "timeline")
    assert again == first
    assert (again.stat().st_ino, again.stat().st_mtime_ns) == (written.st_ino, written.st_mtime_ns), "not rewritten"
    other = timeline.copy()
    other[0, 0] = 255 - other[0, 0]
    assert publish_image(other, tmp_path, "timeline") != first
    assert np.array(Image.open(first)).shape == (40, 300, 3)
    assert not [name for name in os.listdir(first.parent) if name.startswith(".")], "no temporary file left"
