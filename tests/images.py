"""Test images: an application error dialog drawn with Pillow."""

from __future__ import annotations

import base64
import io

ERROR_TEXT = "Could not save report.pdf: disk quota exceeded"


def error_dialog_png(message: str = ERROR_TEXT) -> bytes:
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (960, 540), (236, 239, 244))
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 0, 960, 40], fill=(52, 61, 82))
    draw.text((16, 8), "Reports - Quarterly", fill=(255, 255, 255),
              font=ImageFont.load_default(size=20))
    draw.rectangle([190, 150, 770, 390], fill=(255, 255, 255), outline=(150, 150, 160), width=2)
    draw.text((220, 175), "Error", fill=(190, 20, 20), font=ImageFont.load_default(size=30))
    draw.text((220, 245), message, fill=(20, 20, 20), font=ImageFont.load_default(size=22))
    draw.rectangle([650, 330, 740, 370], fill=(52, 110, 220))
    draw.text((680, 336), "OK", fill=(255, 255, 255), font=ImageFont.load_default(size=22))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"
