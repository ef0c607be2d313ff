"""Generates the app's example videos (made here, so no borrowed media): ``python assets/make_examples.py``.

balls.mp4: two coloured balls bouncing over a textured floor, one passing behind a pillar.
"""

from pathlib import Path

import cv2
import imageio_ffmpeg
import numpy as np

HERE = Path(__file__).resolve().parent
WIDTH, HEIGHT, FPS, SECONDS = 640, 360, 24, 4


def background(rng: np.random.Generator) -> np.ndarray:
    """A soft two-tone floor with a noise texture."""
    ys = np.linspace(0, 1, HEIGHT)[:, None, None]
    floor = (np.array([70, 90, 120]) * (1 - ys) + np.array([150, 140, 110]) * ys).astype(np.float32)
    floor = np.broadcast_to(floor, (HEIGHT, WIDTH, 3)).copy()
    floor += rng.normal(0, 8, size=floor.shape)
    scene = np.clip(floor, 0, 255).astype(np.uint8)
    return scene


def draw_frame(scene: np.ndarray, t: float) -> np.ndarray:
    frame = scene.copy()
    red_x = int(80 + (WIDTH - 160) * (0.5 - 0.5 * np.cos(np.pi * t / SECONDS * 2)))
    red_y = int(HEIGHT * 0.65 - abs(np.sin(t * 3.0)) * 120)
    blue_x = int(WIDTH - 100 - 60 * np.sin(t * 1.3))
    blue_y = int(HEIGHT * 0.35 + 40 * np.cos(t * 2.1))
    cv2.circle(frame, (blue_x, blue_y), 34, (60, 110, 235), -1, cv2.LINE_AA)
    cv2.circle(frame, (red_x, red_y), 42, (225, 50, 45), -1, cv2.LINE_AA)
    cv2.circle(frame, (red_x - 12, red_y - 14), 10, (250, 170, 160), -1, cv2.LINE_AA)
    cv2.rectangle(frame, (WIDTH // 2 - 25, 0), (WIDTH // 2 + 25, HEIGHT), (45, 45, 50), -1)
    return frame


def make_balls(path: Path) -> Path:
    scene = background(np.random.default_rng(7))
    writer = imageio_ffmpeg.write_frames(
        str(path), (WIDTH, HEIGHT), fps=FPS, codec="libx264", macro_block_size=1,
        output_params=["-crf", "28", "-movflags", "+faststart"],
    )
    writer.send(None)
    for index in range(FPS * SECONDS):
        writer.send(draw_frame(scene, index / FPS))
    writer.close()
    return path


if __name__ == "__main__":
    print(make_balls(HERE / "balls.mp4"))
