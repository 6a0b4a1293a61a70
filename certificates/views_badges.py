"""Open Badges views (docs/open-badges.md): the public keys (JWKS), the issuer's profile and the achievements,
all public and cacheable; a certificate's signed credential for its holder and the admins of its region.

A certificate outside the person's reach answers 404 (its existence is not revealed); a revoked certificate
is not exported (410): a signed credential would outlive the revocation offline.
"""

from __future__ import annotations

import json

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_safe

from courses.models import Programme
from lms.permissions import can_manage_region, is_system_admin

from . import badges, signing
from .models import Certificate, CertificateRule

PUBLIC_MAX_AGE_S = 300


def _public_json(data: dict, content_type: str = "application/json") -> JsonResponse:
    response = JsonResponse(data, json_dumps_params={"ensure_ascii": False, "indent": 1},
                            content_type=content_type)
    response["Cache-Control"] = f"public, max-age={PUBLIC_MAX_AGE_S}"
    response["Access-Control-Allow-Origin"] = "*"
    return response


@require_safe
def jwks(request):
    """Every payload key, active and retired (RFC 7517 JWK Set): what verifies the badges and QR payloads."""
    return _public_json(signing.public_jwks())


@require_safe
def issuer_profile(request):
    """The issuer's OB 3.0 Profile with its verification methods."""
    return _public_json(badges.issuer_profile())


@require_safe
def achievement(request, code: str):
    """The OB 3.0 Achievement of a programme that issues certificates (the id credentials name)."""
    programme = get_object_or_404(Programme, code=code)
    if not CertificateRule.objects.filter(programme=programme, certifies=True).exists():
        raise Http404
    data = {"@context": list(badges.CONTEXTS), **badges.programme_achievement(programme)}
    return _public_json(data)


def may_export(user, certificate: Certificate) -> bool:
    return (certificate.holder_id == user.pk or is_system_admin(user)
            or can_manage_region(user, certificate.region))


@login_required
@require_GET
def certificate_badge(request, pk: int):
    """The certificate as a signed OpenBadgeCredential (VC-JWT), as a file ``<number>.jwt``; with
    ``?format=json`` the credential and the JWT as JSON."""
    certificate = get_object_or_404(Certificate.objects.select_related("programme", "region"), pk=pk)
    if not may_export(request.user, certificate):
        raise Http404
    if certificate.revoked_at is not None:
        return HttpResponse(_("This certificate has been revoked: it is not exported as a badge."), status=410,
                            content_type="text/plain; charset=utf-8")
    token = badges.export_badge(certificate)
    if request.GET.get("format") == "json":
        body = {"credential": badges.credential(certificate), "jwt": token}
        response = HttpResponse(json.dumps(body, ensure_ascii=False, indent=1),
                                content_type="application/json; charset=utf-8")
    else:
        response = HttpResponse(token, content_type="application/vc+jwt")
        response["Content-Disposition"] = f'attachment; filename="{certificate.number}.jwt"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
