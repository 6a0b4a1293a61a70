"""Instructor tiers and the annual assessment's rules in the Wagtail admin: data that system admins change
without a deploy (``AssessmentRule.clean`` refuses a pass-rate band upside down)."""

from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.viewsets.model import ModelViewSet, ModelViewSetGroup

from .models import AssessmentRule, Tier


class TierViewSet(ModelViewSet):
    model = Tier
    url_prefix = "instructor-tiers"
    icon = "group"
    menu_label = _("Instructor tiers")
    form_fields = ["code", "name", "rank", "teaches", "examines", "qualification", "description", "is_active"]
    list_display = ["name", "code", "rank", "qualification", "is_active"]
    list_filter = ["is_active"]


class AssessmentRuleViewSet(ModelViewSet):
    model = AssessmentRule
    url_prefix = "assessment-rules"
    icon = "list-ul"
    menu_label = _("Assessment rules")
    form_fields = ["year", "tier", "min_hours", "pass_rate_min_pct", "pass_rate_max_pct", "min_feedback",
                   "min_feedback_responses", "max_major_findings", "refresher", "promote_min_hours",
                   "promote_min_feedback", "promote_min_cpr_pct", "promote_min_years"]
    list_display = ["year", "tier", "min_hours", "pass_rate_min_pct", "min_feedback", "refresher"]
    list_filter = ["year"]


class InstructorsViewSetGroup(ModelViewSetGroup):
    menu_label = _("Instructors")
    menu_icon = "group"
    menu_order = 270
    items = (TierViewSet, AssessmentRuleViewSet)


@hooks.register("register_admin_viewset")
def register_instructor_viewsets():
    return InstructorsViewSetGroup()
