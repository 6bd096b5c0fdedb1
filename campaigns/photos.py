"""Page photos: checked by opening them (JPEG, PNG or WebP only), EXIF
stripped, resized, stored as JPEG under a random name, served from /media/."""

from __future__ import annotations

import io
import re
import secrets
import warnings
from pathlib import Path

from flask import abort, current_app, send_from_directory
from flask_babel import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

ALLOWED_FORMATS = {"JPEG", "PNG", "WEBP"}
MAX_SIDE = 1200
# Refuse decompression bombs well before Pillow's own (warning-only) limit.
MAX_PIXELS = 40_000_000
NAME_RE = re.compile(r"^[0-9a-f]{32}\.jpg$")


class PhotoError(ValueError):
    """A photo we will not keep; the message says what to do."""


def open_image(
    data: bytes,
    formats: set[str],
    error: type[ValueError],
    *,
    wrong_format: str,
    too_many_pixels: str,
    unreadable: str,
) -> Image.Image:
    """The image in ``data``, fully decoded, if it is in one of ``formats`` and
    is no decompression bomb; ``error`` with the matching message otherwise."""
    try:
        # Past twice MAX_IMAGE_PIXELS Pillow raises at open; a 45-byte header can
        # declare 50000×50000 pixels.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in formats:
                raise error(wrong_format)
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise error(too_many_pixels)
            image.load()
    except error:
        raise
    except Image.DecompressionBombError as exc:
        raise error(too_many_pixels) from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Warning) as exc:
        raise error(unreadable) from exc
    return image


def process(upload) -> bytes:
    """Check an uploaded file and return a clean JPEG: no EXIF, at most 1200px."""
    limit = current_app.config["PHOTO_MAX_BYTES"]
    data = upload.stream.read(limit + 1)
    if not data:
        raise PhotoError(_("The file is empty. Choose a photo."))
    if len(data) > limit:
        raise PhotoError(
            _("The photo is too large: keep it under %(mb)s MB.", mb=max(1, limit // 1_000_000))
        )
    image = open_image(
        data,
        ALLOWED_FORMATS,
        PhotoError,
        wrong_format=_("Choose a JPEG, PNG or WebP photo."),
        too_many_pixels=_("The photo has too many pixels: choose a smaller one."),
        unreadable=_("This file is not a photo we can read. Choose a JPEG, PNG or WebP."),
    )
    # Apply the camera's rotation before the EXIF block (GPS, device) is dropped.
    image = ImageOps.exif_transpose(image)
    image.thumbnail((MAX_SIDE, MAX_SIDE))
    rgba = image.convert("RGBA")
    # A new image carries no metadata; transparency becomes white.
    clean = Image.new("RGB", rgba.size, (255, 255, 255))
    clean.paste(rgba, mask=rgba.getchannel("A"))
    out = io.BytesIO()
    clean.save(out, "JPEG", quality=85, optimize=True, progressive=True)
    return out.getvalue()


def save(jpeg: bytes) -> str:
    """Write a processed photo under a new random name and return the name."""
    folder = Path(current_app.config["UPLOAD_FOLDER"])
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{secrets.token_hex(16)}.jpg"
    (folder / name).write_bytes(jpeg)
    return name


def serve(name: str):
    if not NAME_RE.match(name):
        abort(404)
    response = send_from_directory(current_app.config["UPLOAD_FOLDER"], name, max_age=86400 * 30)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
