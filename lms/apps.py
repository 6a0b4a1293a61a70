from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LmsConfig(AppConfig):
    name = "lms"
    verbose_name = _("Core")

    def ready(self):
        from . import access, signals  # noqa: F401  (open sockets learn of access changes; audit of sign-ins)
        from django.db.backends.signals import connection_created

        from .security import private_sqlite_files

        connection_created.connect(private_sqlite_files, dispatch_uid="lms.private_sqlite_files")
        # Each app declares the personal data it holds in its own privacy.py (lms.privacy).
        from django.utils.module_loading import autodiscover_modules

        autodiscover_modules("privacy")
