from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DashboardsConfig(AppConfig):
    name = "dashboards"
    verbose_name = _("Region dashboards")

    def ready(self):
        from . import dashboard, signals  # noqa: F401  (the role dashboard's card; facts that change mark their cells)
