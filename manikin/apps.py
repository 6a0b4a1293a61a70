from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ManikinConfig(AppConfig):
    name = "manikin"
    verbose_name = _("Manikins")

    def ready(self):
        from . import dashboard  # noqa: F401  (registers the dashboard cards)
