from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DashboardsConfig(AppConfig):
    name = "dashboards"
    verbose_name = _("Region dashboards")

    def ready(self):
        from . import signals  # noqa: F401  (facts that change mark their summary cells)
