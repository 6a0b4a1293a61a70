from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InspectionsConfig(AppConfig):
    name = "inspections"
    verbose_name = _("Inspections")

    def ready(self):
        # Dashboard cards (inspectors and planners only); personal-data declarations.
        from . import dashboard, privacy  # noqa: F401
