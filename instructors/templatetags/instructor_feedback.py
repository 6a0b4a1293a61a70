"""``{% rate_class_link enrolment %}``: the trainee's "rate this class" link where they see their classes
(shown while ``instructors.feedback.feedback_refusal`` lets them rate; a thank-you once they have)."""

from django import template
from django.urls import reverse

from instructors.feedback import feedback_refusal
from instructors.models import FeedbackReceipt

register = template.Library()


@register.inclusion_tag("instructors/_rate_link.html", takes_context=True)
def rate_class_link(context, enrolment):
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or enrolment is None:
        return {"rate_url": None, "rated": False}
    if feedback_refusal(user, enrolment) is None:
        return {"rate_url": reverse("instructors:feedback", args=[enrolment.pk]), "rated": False}
    return {"rate_url": None, "rated": FeedbackReceipt.objects.filter(enrolment=enrolment).exists()}
