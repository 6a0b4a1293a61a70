"""Open study sockets (``courses.consumers``) check their access again when an enrolment changes."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from lms.access import notify_access_changed

from .models import Enrolment, TrainingClass


@receiver(post_save, sender=Enrolment)
@receiver(post_delete, sender=Enrolment)
def _enrolment_changed(sender, instance, **kwargs):
    notify_access_changed(instance.user_id)


@receiver(post_save, sender=TrainingClass)
def _class_changed(sender, instance, created=False, update_fields=None, **kwargs):
    if created:
        return  # nobody is enrolled yet
    for user_id in instance.enrolments.values_list("user_id", flat=True):
        notify_access_changed(user_id)
