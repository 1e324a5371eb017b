"""A pre-rendered RGBA layer, stored premultiplied so blending a frame is two integer ops.

Static things (titles, chart panels, each caption) are drawn once with Pillow; per frame
only the layer's bounding box is touched, in uint16 arithmetic with alpha scaled to 256
(``out = (dst * (256 - a) + src * a) >> 8``), which avoids float conversion of 1080p frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image

U8 = npt.NDArray[np.uint8]
U16 = npt.NDArray[np.uint16]


@dataclass(slots=True)
class Layer:
    x: int
    y: int
    premultiplied: U16  # (h, w, 3): rgb * a256
    inverse_alpha: U16  # (h, w, 3): 256 - a256, repeated per channel for cv2

    @classmethod
    def from_image(cls, image: Image.Image, x: int, y: int) -> Layer:
        """A layer from an RGBA image placed with its top-left corner at (x, y)."""
        bbox = image.getbbox()  # only the painted part costs time per frame
        if bbox is None:
            bbox = (0, 0, 1, 1)
        rgba = np.asarray(image.crop(bbox).convert("RGBA"), dtype=np.uint16)
        alpha = rgba[:, :, 3:4] + (rgba[:, :, 3:4] >> 7)  # 0..255 -> 0..256
        inverse = np.ascontiguousarray(np.repeat(256 - alpha, 3, axis=2))
        return cls(x + bbox[0], y + bbox[1], np.ascontiguousarray(rgba[:, :, :3] * alpha),
                   inverse)

    def blend(self, frame: U8) -> None:
        """Draw onto ``frame`` (h, w, 3 uint8) in place, clipped to the frame."""
        h, w = self.inverse_alpha.shape[:2]
        x0, y0 = max(self.x, 0), max(self.y, 0)
        x1, y1 = min(self.x + w, frame.shape[1]), min(self.y + h, frame.shape[0])
        if x1 <= x0 or y1 <= y0:
            return
        sy, sx = slice(y0 - self.y, y1 - self.y), slice(x0 - self.x, x1 - self.x)
        import cv2

        region = frame[y0:y1, x0:x1]
        # cv2's SIMD uint16 arithmetic is ~4x faster than numpy here and exact: the
        # largest intermediate, 255 * 256, fits in uint16 (no saturation).
        mixed = region.astype(np.uint16)
        cv2.multiply(mixed, np.ascontiguousarray(self.inverse_alpha[sy, sx]), dst=mixed)
        cv2.add(mixed, np.ascontiguousarray(self.premultiplied[sy, sx]), dst=mixed)
        np.right_shift(mixed, 8, out=mixed)
        region[...] = mixed
