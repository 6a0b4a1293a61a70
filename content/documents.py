"""Checks on the documents editors upload (lesson videos, captions, handouts), beyond Wagtail's extension check.

Wagtail accepts any bytes under an allowed extension. ``DocumentForm`` (``WAGTAILDOCS_DOCUMENT_FORM_BASE``)
also looks at what the file is: its first bytes must match its extension (an MP4's ``ftyp`` box, WebM's EBML
header, ``WEBVTT`` captions in UTF-8, ``%PDF-``, the zip container of Office files), text must be UTF-8 without
NUL bytes, and each kind has a size limit. A refused file is named with its reason in the editor's language and
nothing is stored.
"""

from __future__ import annotations

import os

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from wagtail.documents.forms import BaseDocumentForm

MB = 1024 * 1024
# nginx in front refuses bodies over 50 MB (lms.serving.nginx_conf: client_max_body_size 50m).
VIDEO_MAX_BYTES = getattr(settings, "LMS_VIDEO_MAX_BYTES", 50 * MB)
DOCUMENT_MAX_BYTES = getattr(settings, "LMS_DOCUMENT_MAX_BYTES", 20 * MB)
VIDEO_EXTENSIONS = {"mp4", "webm"}
ZIP_EXTENSIONS = {"docx", "pptx", "xlsx", "zip"}
TEXT_EXTENSIONS = {"csv", "txt", "vtt"}
HEAD_BYTES = 64 * 1024


def _head(upload, size: int) -> bytes:
    upload.seek(0)
    data = upload.read(size)
    upload.seek(0)
    return data


def _is_utf8_text(data: bytes, complete: bool) -> bool:
    if b"\x00" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        # The head may end in the middle of a character: only a cut at the very end is forgiven.
        return not complete and e.start >= len(data) - 3 and e.reason == "unexpected end of data"
    return True


def check_document(upload) -> None:
    """Raise ``forms.ValidationError`` when ``upload`` is not what its extension says or is too large."""
    ext = os.path.splitext(upload.name or "")[1].lower().lstrip(".")
    limit = VIDEO_MAX_BYTES if ext in VIDEO_EXTENSIONS else DOCUMENT_MAX_BYTES
    if upload.size == 0:
        raise forms.ValidationError(_("The file is empty."), code="empty")
    if upload.size > limit:
        raise forms.ValidationError(
            _("This file is %(size)s; files of this kind may be at most %(limit)s.")
            % {"size": filesizeformat(upload.size), "limit": filesizeformat(limit)}, code="too_large")
    head = _head(upload, HEAD_BYTES)
    ok = {
        "mp4": len(head) >= 12 and head[4:8] == b"ftyp",
        "webm": head.startswith(b"\x1a\x45\xdf\xa3"),
        "pdf": head.startswith(b"%PDF-"),
    }.get(ext)
    if ext in ZIP_EXTENSIONS:
        ok = head.startswith(b"PK\x03\x04")
    elif ext in TEXT_EXTENSIONS:
        ok = _is_utf8_text(head, complete=upload.size <= HEAD_BYTES)
        if ok and ext == "vtt":
            ok = head.removeprefix(b"\xef\xbb\xbf").startswith(b"WEBVTT")
    if ok is False:
        raise forms.ValidationError(
            _("The content of this file is not a .%(ext)s file. Please upload the file itself, not a renamed one.")
            % {"ext": ext}, code="wrong_type")


class DocumentForm(BaseDocumentForm):
    def clean_file(self):
        upload = self.cleaned_data.get("file")
        if upload is not None and "file" in self.changed_data:
            check_document(upload)
        return upload
