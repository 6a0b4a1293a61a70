from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ExamsConfig(AppConfig):
    name = "exams"
    verbose_name = _("Exams")

    def ready(self):
        from manikin import api as manikin_api
        from manikin.signals import samples_arrived_late

        from . import dashboard, practical  # noqa: F401  (dashboard: registers the cards)

        # The practical exam hooks into the room console: a CPR item starts only for a checked-in
        # candidate of this examiner; late samples of a signed item make a new result version.
        manikin_api.register_start_check(practical.check_cpr_start)
        manikin_api.register_room_grant(practical.rooms_examined_today)
        samples_arrived_late.connect(_late_samples, dispatch_uid="exams.practical.late_samples")


def _late_samples(sender, recording_ids, **kwargs):
    from . import practical

    practical.late_samples_arrived(recording_ids)
