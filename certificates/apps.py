from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CertificatesConfig(AppConfig):
    name = "certificates"
    verbose_name = _("Certificates")

    def ready(self):
        from exams.signals import practical_result_frozen

        from . import dashboard  # noqa: F401  (registers the cards)
        from .issuing import on_practical_result

        practical_result_frozen.connect(on_practical_result, dispatch_uid="certificates.auto_issue")
