"""Still previews of a rendered video: a thumbnail (WebP, full size, the middle frame) and
a spritesheet (JPEG, a grid of frames spread over the video), as the Videos API's
``content?variant=thumbnail|spritesheet`` serve them.

One decoding pass picks every frame needed; a 12 s 1792x1024 video decodes in about a
second on 2 cores, cheaper than keeping frames during rendering.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from .error import GenerationError

TILES = 12  # spritesheet frames
COLUMNS = 4
TILE_HEIGHT = 180  # pixels; the width follows the video's aspect


def pick_frames(path: Path, times: list[float]) -> list[np.ndarray]:
    """RGB frames at (or just after) each of ``times``, from one decoding pass; times past
    the end get the last frame."""
    import av

    wanted = sorted(range(len(times)), key=lambda i: times[i])
    out: dict[int, np.ndarray] = {}
    final = None
    try:
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                final, rgb = frame, None
                while wanted and float(frame.time or 0.0) + 1e-3 >= times[wanted[0]]:
                    rgb = frame.to_ndarray(format="rgb24") if rgb is None else rgb
                    out[wanted.pop(0)] = rgb
                if not wanted:
                    break
            if wanted and final is not None:
                rgb = final.to_ndarray(format="rgb24")
                out.update((i, rgb) for i in wanted)
    except av.FFmpegError as exc:
        raise GenerationError(f"cannot read back {path}: {exc}") from None
    if final is None:
        raise GenerationError(f"{path} has no video frames")
    return [out[i] for i in range(len(times))]


def write_previews(video: Path, duration_s: float, thumbnail: Path, spritesheet: Path) -> None:
    """``thumbnail`` (WebP) and ``spritesheet`` (JPEG) of ``video``."""
    step = duration_s / TILES
    times = [duration_s / 2] + [step * (i + 0.5) for i in range(TILES)]
    frames = pick_frames(video, times)
    Image.fromarray(frames[0]).save(thumbnail, format="WEBP", quality=82)
    h, w = frames[1].shape[:2]
    tile_w = max(2, round(w * TILE_HEIGHT / h))
    rows = -(-TILES // COLUMNS)
    sheet = Image.new("RGB", (tile_w * COLUMNS, TILE_HEIGHT * rows))
    for i, rgb in enumerate(frames[1:]):
        tile = Image.fromarray(rgb).resize((tile_w, TILE_HEIGHT), Image.Resampling.BILINEAR)
        sheet.paste(tile, ((i % COLUMNS) * tile_w, (i // COLUMNS) * TILE_HEIGHT))
    sheet.save(spritesheet, format="JPEG", quality=85)
