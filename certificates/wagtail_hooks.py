"""Certificate rules in the Wagtail admin: what each programme's certificate is (title, validity, number
format, exam window, automatic issue, what it renews, reminders) is data that system admins change
without a deploy. A rule's form is checked by ``CertificateRule.clean`` (a number format that cannot be
used is refused with the reason)."""

from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.viewsets.model import ModelViewSet

from .models import CertificateRule


class CertificateRuleViewSet(ModelViewSet):
    model = CertificateRule
    url_prefix = "certificate-rules"
    icon = "doc-full"
    menu_label = _("Certificate rules")
    menu_order = 260
    add_to_admin_menu = True
    form_fields = ["programme", "certifies", "title", "validity_years", "number_format", "window_days",
                   "issue_within_days", "auto_issue", "renews", "reminder_days"]
    list_display = ["programme", "title", "certifies", "validity_years", "number_format", "auto_issue"]
    list_filter = ["certifies", "auto_issue"]


@hooks.register("register_admin_viewset")
def register_certificate_rules():
    return CertificateRuleViewSet()
