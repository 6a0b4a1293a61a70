"""Dashboard cards of the certificates app: the holder's certificates (with the expiry warning of their
unread in-app reminders) and, for admins, the certificates of their scope."""

import datetime

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from lms import numbers
from lms.dashboard import Card, register

from . import lifecycle
from .models import Certificate


@register
def certificate_cards(user) -> list[Card]:
    cards = []
    today = timezone.localdate()
    mine = list(Certificate.objects.filter(holder=user).order_by("-expires_on", "-pk")[:20])
    if mine:
        current = [c for c in mine if c.status(today) == Certificate.Status.VALID]
        latest: dict = {}  # the newest unread reminder of each certificate
        for reminder in lifecycle.unread_reminders(user)[:10]:
            latest.setdefault(reminder.certificate_id, reminder)
        unread = list(latest.values())[:3]
        if unread:
            text = " ".join(_("Your %(title)s %(number)s expires on %(date)s: renew it with the refresher course.")
                            % {"title": r.certificate.title, "number": r.certificate.number,
                               "date": f"{r.certificate.expires_on:%Y-%m-%d}"} for r in unread)
        elif current:
            text = _("Valid until %(date)s.") % {"date": f"{current[0].expires_on:%Y-%m-%d}"}
        else:
            text = _("No valid certificate.")
        cards.append(Card(
            title=_("My certificates"), text=text,
            stats=[(_("Valid"), numbers.count(len(current))), (_("All"), numbers.count(len(mine)))],
            links=[(_("My certificates"), reverse("certificates:mine"))],
            order=5 if unread else 12,
        ))
    if lifecycle.is_certificate_staff(user):
        visible = lifecycle.visible_certificates(user)
        issued = visible.filter(issued_on__year=today.year).count()
        expiring = visible.filter(revoked_at__isnull=True, expires_on__gte=today,
                                  expires_on__lte=today + datetime.timedelta(days=90)).count()
        cards.append(Card(
            title=_("Certificates"),
            stats=[(_("Issued in %(year)s") % {"year": today.year}, numbers.count(issued)),
                   (_("Expiring within 90 days"), numbers.count(expiring))],
            links=[(_("Certificates"), reverse("certificates:list"))],
            order=22,
        ))
    return cards
