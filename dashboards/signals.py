"""Facts that change mark their summary cells dirty, in the same transaction as the change.

Bulk writes that bypass signals (``bulk_create``, ``QuerySet.update``) must call ``facts.mark`` or
``facts.rebuild`` themselves: the province generator calls ``rebuild``. Attempts, practical results and
exam recordings count in the person's region: a person who moves to another region takes them along (the
months they touch are marked in both regions), as a rebuild would count them.
"""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from certificates.models import Certificate
from courses.awareness import awareness_recorded
from courses.models import AwarenessRecord, TrainingClass
from exams.models import Attempt
from exams.practical_models import PracticalResult
from lms.models import Region, User
from manikin.models import Recording

from . import facts


def _region_of_user(user_id) -> int | None:
    if user_id is None:
        return None
    return User.objects.filter(pk=user_id).values_list("region_id", flat=True).first()


@receiver([post_save, post_delete], sender=AwarenessRecord, dispatch_uid="dashboards.awareness")
def _awareness(sender, instance, **kwargs):
    facts.mark([(instance.region_id, instance.held_on)])


def _chain_cells(region_id, issued_on, renews_id) -> list[tuple]:
    """The cells a certificate's change touches: its own, and the one of the certificate it renews (whose last
    day and renewal day are the renewal's issue day, while the renewal is not revoked)."""
    cells = [(region_id, issued_on)]
    if renews_id:
        old = Certificate.objects.filter(pk=renews_id).values_list("region_id", "issued_on").first()
        if old:
            cells.append(old)
    return cells


@receiver(pre_save, sender=Certificate, dispatch_uid="dashboards.certificate.before")
def _certificate_before(sender, instance, **kwargs):
    if instance.pk:  # a correction may move it: its old cell changes too
        old = Certificate.objects.filter(pk=instance.pk).values_list("region_id", "issued_on", "renews_id").first()
        if old:
            facts.mark(_chain_cells(*old))


@receiver(pre_save, sender=User, dispatch_uid="dashboards.person.before")
def _person_before(sender, instance, update_fields=None, **kwargs):
    if not instance.pk or (update_fields is not None and not {"region", "region_id"} & set(update_fields)):
        return  # e.g. a sign-in (last_login)
    old = User.objects.filter(pk=instance.pk).values_list("region_id", flat=True).first()
    if old == instance.region_id:
        return
    months = set(Attempt.objects.filter(user_id=instance.pk, submitted_at__isnull=False)
                 .values_list("submitted_at", flat=True))
    months |= {m for pair in PracticalResult.objects.filter(booking__candidate_id=instance.pk)
               .values_list("signed_at", "created_at") for m in pair}
    months |= set(Recording.objects.filter(trainee_id=instance.pk, purpose="exam", stopped_at__isnull=False)
                  .values_list("stopped_at", flat=True))
    facts.mark([(region, m) for region in (old, instance.region_id) for m in months])


@receiver(pre_save, sender=TrainingClass, dispatch_uid="dashboards.class.before")
def _class_before(sender, instance, **kwargs):
    if instance.pk:
        facts.mark(TrainingClass.objects.filter(pk=instance.pk).values_list("training_base__region_id", "starts_on"))


@receiver(awareness_recorded, dispatch_uid="dashboards.awareness.bulk")
def _awareness_bulk(sender, cells, **kwargs):
    facts.mark(cells)


@receiver([post_save, post_delete], sender=Certificate, dispatch_uid="dashboards.certificate")
def _certificate(sender, instance, **kwargs):
    # a renewal ends the days of the certificate it renews; revoking it gives them back
    facts.mark(_chain_cells(instance.region_id, instance.issued_on, instance.renews_id))


@receiver([post_save, post_delete], sender=Attempt, dispatch_uid="dashboards.attempt")
def _attempt(sender, instance, **kwargs):
    if instance.submitted_at is not None:
        facts.mark([(_region_of_user(instance.user_id), instance.submitted_at)])


@receiver([post_save, post_delete], sender=PracticalResult, dispatch_uid="dashboards.practical")
def _practical(sender, instance, **kwargs):
    from exams.practical_models import Booking
    region = Booking.objects.filter(pk=instance.booking_id).values_list("candidate__region_id", flat=True).first()
    # a version is counted in the month it was signed, or made (late evidence is frozen unsigned)
    versions = PracticalResult.objects.filter(booking_id=instance.booking_id).values_list("signed_at", "created_at")
    facts.mark([(region, m) for pair in [*versions, (instance.signed_at, instance.created_at)] for m in pair])


@receiver([post_save, post_delete], sender=Recording, dispatch_uid="dashboards.recording")
def _recording(sender, instance, **kwargs):
    if instance.stopped_at is not None and instance.trainee_id is not None and instance.purpose == "exam":
        facts.mark([(_region_of_user(instance.trainee_id), instance.stopped_at)])


@receiver([post_save, post_delete], sender=TrainingClass, dispatch_uid="dashboards.class")
def _class(sender, instance, **kwargs):
    from lms.models import Organisation
    region = Organisation.objects.filter(pk=instance.training_base_id).values_list("region_id", flat=True).first()
    facts.mark([(region, instance.starts_on)])


@receiver(post_delete, sender=Region, dispatch_uid="dashboards.region")
def _region(sender, instance, **kwargs):
    from .models import DirtyCell
    DirtyCell.objects.filter(region_id=instance.pk).delete()
