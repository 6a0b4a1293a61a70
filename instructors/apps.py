from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InstructorsConfig(AppConfig):
    name = "instructors"
    verbose_name = _("Instructors")

    def ready(self):
        from . import dashboard, privacy  # noqa: F401  (dashboard cards; personal-data declarations)
