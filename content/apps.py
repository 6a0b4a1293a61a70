from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ContentConfig(AppConfig):
    name = "content"
    verbose_name = _("Content")

    def ready(self):
        from content import signals
        from content.rendering import bump_tree_generation
        from lms.cache import on_recovery

        signals.connect()
        # Pages published while Redis was away bumped only this process's memory: bump the shared one.
        on_recovery(bump_tree_generation)
