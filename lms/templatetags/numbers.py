"""Template filters for the number formats of ``lms.numbers``: ``{% load numbers %}``
then ``{{ result.score|score }}``, ``{{ result.ccf|percent }}``, ``{{ n|count }}``."""

from django import template

from lms import numbers

register = template.Library()

for _name in ("score", "depth", "rate", "percent", "pct", "count"):
    register.filter(_name, getattr(numbers, _name), is_safe=True)
