"""The certificates app's personal data: the certificates a person holds (their printed fields and earlier
revisions), eligibility exceptions granted to them, and the expiry reminders sent to them (see
``lms.privacy`` for the declarations API and docs/privacy.md for the retention choices)."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from lms import privacy

from .models import Certificate, CertificateRevision, EligibilityException, Reminder


def _export_certificates(person) -> privacy.Rows:
    rows = []
    for c in Certificate.objects.filter(holder=person).order_by("issued_on", "pk"):
        rows.append({
            "number": c.number, "title": c.title, "holder_name": c.holder_name, "id_card_masked": c.id_card_masked,
            "programme": c.programme_name, "class_hours": c.class_hours, "issuer": c.issuer_name,
            "instructors": c.instructor_names, "examiner": c.examiner_name, "issued_on": c.issued_on,
            "expires_on": c.expires_on, "status": str(Certificate.Status(c.status()).label), "revision": c.revision,
            "revoked_at": c.revoked_at, "revoked_reason": c.revoked_reason,
            "renews": c.renews.number if c.renews_id else None,
            "earlier_revisions": [{"revision": r.revision, "holder_name": r.holder_name, "reason": r.reason,
                                   "replaced_at": r.replaced_at} for r in c.revisions.order_by("revision")],
            "reminders": [{"days_before": r.days_before, "channel": str(r.get_channel_display()),
                           "sent_at": r.sent_at, "outcome": r.outcome} for r in c.reminders.order_by("sent_at")],
        })
    for e in EligibilityException.objects.filter(person=person).select_related("programme"):
        rows.append({"exception": e.pk, "programme": e.programme.name, "waives": e.waives, "reason": e.reason,
                     "granted_at": e.granted_at, "withdrawn_at": e.withdrawn_at})
    issued = Certificate.objects.filter(issued_by=person).count()
    revoked = Certificate.objects.filter(revoked_by=person).count()
    if issued or revoked:
        rows.append({"role": _("staff"), "certificates_issued": issued, "certificates_revoked": revoked})
    return rows


def _anonymise(person) -> dict[str, int]:
    """Reminders are erased (contact history); the certificates stay (see ``kept``)."""
    deleted, _by_model = Reminder.objects.filter(certificate__holder=person).delete()
    return {"certificate_reminders": deleted}


privacy.register(privacy.Declaration(
    key="certificates.certificates", order=170,
    title=gettext_lazy("Certificates"),
    models=["certificates.Certificate", "certificates.CertificateRevision", "certificates.EligibilityException",
            "certificates.Reminder", "certificates.IssueJob"],
    holds=gettext_lazy("The certificates issued to you with every printed field (name, masked ID-card number, "
                       "programme, dates, issuer, instructors, examiner), earlier revisions after a name "
                       "correction, exceptions granted to you with their reason, and the expiry reminders sent "
                       "to you; as staff, the certificates you issued or revoked."),
    export=_export_certificates,
    anonymise=_anonymise,
    erased=[gettext_lazy("The expiry reminders sent to you")],
    kept=[(gettext_lazy("Certificates and their revisions, with the name as printed"),
           gettext_lazy("A certificate is a credential employers verify by its number: verification shows only "
                        "the masked name and ID-card number, and a revoked or expired status stays visible")),
          (gettext_lazy("Eligibility exceptions with their reason"),
           gettext_lazy("Why a certificate was issued outside the rules stays auditable"))],
))
privacy.not_personal("certificates.CertificateRule", gettext_lazy("Certificate rules (a certificate's title)"))
privacy.not_personal("certificates.SigningKey", gettext_lazy("Signing keys"))
privacy.not_personal("certificates.NumberSequence", gettext_lazy("Certificate number sequences"))
