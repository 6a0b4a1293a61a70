"""Downloads of the certificate PDFs (``certificates/pdf.py`` renders, signs and keeps them).

- ``certificates/<pk>/pdf/`` (``?layout=card`` for the wallet card): the holder, and the staff who may
  see the certificate: system admins, admins of a region that holds the certificate's issuing region,
  and the admins of the organisation that ran its class (``courses.permissions.can_manage_class``).
- ``certificates/classes/<class_id>/certificates.pdf`` and ``.zip``: a class's current certificates as
  one PDF or a zip of the individual PDFs, for whoever manages the class.

Anyone else gets 404 (the certificate's or class's existence is not revealed); anonymous visitors go to
the sign-in page. A revoked certificate's PDF is not served: it must not be printed again (the
verification page says it was revoked).
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from courses import permissions as course_permissions
from courses.models import TrainingClass
from lms import permissions as lms_permissions

from . import pdf
from .models import Certificate


def may_download(user, certificate: Certificate) -> bool:
    if certificate.holder_id == user.pk or lms_permissions.can_manage_region(user, certificate.region):
        return True
    klass = certificate.training_class
    return klass is not None and course_permissions.can_manage_class(user, klass)


def _attachment(data: bytes, filename: str, content_type: str) -> HttpResponse:
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(True, filename)  # RFC 5987 for the Chinese name
    response["Cache-Control"] = "private, no-store"  # personal data
    return response


@login_required
@require_GET
def certificate_pdf(request, pk: int):
    certificate = get_object_or_404(
        Certificate.objects.select_related("holder", "programme", "region", "training_class__training_base__region"),
        pk=pk)
    if not may_download(request.user, certificate) or certificate.revoked_at is not None:
        raise Http404
    layout = request.GET.get("layout", "a4")
    if layout not in pdf.LAYOUTS:
        layout = "a4"
    return _attachment(pdf.certificate_pdf(certificate, layout), pdf.download_filename(certificate, layout),
                       "application/pdf")


def _bundle(request, class_id: int, kind: str):
    klass = get_object_or_404(TrainingClass.objects.select_related("training_base__region"), pk=class_id)
    if not course_permissions.can_manage_class(request.user, klass):
        raise Http404
    made = pdf.class_bundle(klass, kind)
    if made is None:
        raise Http404(_("This class has no valid certificates to download."))
    data, filename = made
    return _attachment(data, filename, "application/pdf" if kind == "pdf" else "application/zip")


@login_required
@require_GET
def class_bundle_pdf(request, class_id: int):
    return _bundle(request, class_id, "pdf")


@login_required
@require_GET
def class_bundle_zip(request, class_id: int):
    return _bundle(request, class_id, "zip")
