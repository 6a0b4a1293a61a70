from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LmsConfig(AppConfig):
    name = "lms"
    verbose_name = _("Core")

    def ready(self):
        from . import signals  # noqa: F401  (audit of sign-ins)
