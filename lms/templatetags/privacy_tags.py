"""``{% can_anonymise person as allowed %}``: whether the signed-in person may anonymise ``person``."""

from django import template

register = template.Library()


@register.simple_tag(takes_context=True)
def can_anonymise(context, person) -> bool:
    from lms import api

    request = context.get("request")
    return bool(request is not None and api.can_anonymise(request.user, person))
