"""ID photos: accepted by content (JPEG or PNG), bounded in bytes and pixels, re-encoded without metadata.

A photo is personal data (PIPL: sensitive, like the ID card). What is stored is a fresh image drawn
from the upload's pixels only: no EXIF (camera, GPS position, time), no PNG text chunks, no ICC
profile or comment survive. The orientation EXIF asks for is applied first, so the face stays upright.
The file is stored under ``MEDIA_ROOT`` and served only by the permission-checked ``lms:person_photo``.
"""

from __future__ import annotations

import io
import uuid
import warnings

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 25_000_000  # e.g. 5000 × 5000: a decompression bomb expands far beyond this
MAX_SIDE = 1600  # stored photos are scaled down to this (an ID photo needs no more)
FORMATS = {"JPEG": ("jpg", "image/jpeg"), "PNG": ("png", "image/png")}


def clean_photo(upload) -> ContentFile:
    """The stored form of an uploaded photo, or ``ValidationError`` (code ``photo``) with a clear message."""
    size = getattr(upload, "size", None)
    if size is not None and size > MAX_BYTES:
        raise ValidationError(_("The photo is larger than %(mb)s MB.") % {"mb": MAX_BYTES // (1024 * 1024)},
                              code="photo_size")
    upload.seek(0)
    data = upload.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise ValidationError(_("The photo is larger than %(mb)s MB.") % {"mb": MAX_BYTES // (1024 * 1024)},
                              code="photo_size")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            fmt = img.format
            if fmt not in FORMATS:
                raise ValidationError(_("The photo must be a JPEG or PNG image."), code="photo_format")
            width, height = img.size  # read from the header, before any pixel is decoded
            if width * height > MAX_PIXELS:
                raise ValidationError(_("The photo has too many pixels (at most %(mp)s million).")
                                      % {"mp": MAX_PIXELS // 1_000_000}, code="photo_pixels")
            img.load()
            img = ImageOps.exif_transpose(img)
    except ValidationError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValidationError(_("The photo has too many pixels (at most %(mp)s million).")
                              % {"mp": MAX_PIXELS // 1_000_000}, code="photo_pixels") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise ValidationError(_("The photo must be a JPEG or PNG image."), code="photo_format") from None
    ext, _mime = FORMATS[fmt]
    try:
        return ContentFile(_reencode(img, fmt), name=f"{uuid.uuid4().hex}.{ext}")
    except (OSError, ValueError):  # an unusual pixel format Pillow cannot convert
        raise ValidationError(_("The photo must be a JPEG or PNG image."), code="photo_format") from None


def _reencode(img: Image.Image, fmt: str) -> bytes:
    if fmt == "JPEG":
        mode = "L" if img.mode in ("L", "1") else "RGB"
    else:
        mode = "RGBA" if img.mode in ("RGBA", "LA", "P", "PA") or "transparency" in img.info else (
            "L" if img.mode in ("L", "1") else "RGB")
    img = img.convert(mode)
    if max(img.size) > MAX_SIDE:
        img.thumbnail((MAX_SIDE, MAX_SIDE))
    # A new image from the pixels alone: nothing of the upload's info (EXIF, text, ICC) comes along.
    clean = Image.frombytes(img.mode, img.size, img.tobytes())
    out = io.BytesIO()
    if fmt == "JPEG":
        clean.save(out, "JPEG", quality=88, optimize=True)
    else:
        clean.save(out, "PNG", optimize=True)
    return out.getvalue()
