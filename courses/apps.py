from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoursesConfig(AppConfig):
    name = "courses"
    verbose_name = _("Courses")

    def ready(self):
        # Dashboard cards; personal-data declarations; study sockets told of enrolment changes.
        from . import dashboard, privacy, signals  # noqa: F401
