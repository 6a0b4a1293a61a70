"""The question bank and blueprints in the Wagtail admin: their pages (``exams.admin_views``) at
/admin/exam-bank/, and the Exams menu that leads to them.

System admins and province admins manage the bank (``can_manage_bank``). Province admins have no
other use for the Wagtail admin: ``exams.auth.BankManagerAdminAccess`` lets them in (the admin shows
them the Exams menu and nothing of the pages, images or settings, which need their own permissions),
and every bank page checks ``can_manage_bank`` again.
"""

from __future__ import annotations

from django.db.models import Count, Q
from django.template.loader import render_to_string
from django.urls import include, path, reverse_lazy
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.menu import Menu, MenuItem, SubmenuMenuItem
from wagtail.admin.ui.components import Component

from . import urls_admin
from .questions import can_manage_bank


@hooks.register("register_admin_urls")
def exam_bank_urls():
    return [path("exam-bank/", include((urls_admin.urlpatterns, "exam_bank"), namespace="exam_bank"))]


class BankMenuItem(MenuItem):
    def is_shown(self, request):
        return can_manage_bank(request.user)


class SchemeMenuItem(MenuItem):
    def is_shown(self, request):
        from lms.permissions import is_system_admin

        return is_system_admin(request.user)


class BankSubmenu(SubmenuMenuItem):
    def is_shown(self, request):
        return can_manage_bank(request.user)


@hooks.register("register_admin_menu_item")
def exam_bank_menu():
    menu = Menu(items=[
        BankMenuItem(_("Question bank"), reverse_lazy("exam_bank:questions"), name="exam-questions",
                     icon_name="help", order=1),
        BankMenuItem(_("Import questions"), reverse_lazy("exam_bank:import"), name="exam-import",
                     icon_name="upload", order=2),
        BankMenuItem(_("Exam blueprints"), reverse_lazy("exam_bank:blueprints"), name="exam-blueprints",
                     icon_name="list-ol", order=3),
        SchemeMenuItem(_("Practical exam schemes"), reverse_lazy("exam_bank:practical_schemes"),
                       name="practical-schemes", icon_name="tasks", order=4),
    ])
    return BankSubmenu(_("Exams"), menu, name="exams", icon_name="form", order=260)


class BankPanel(Component):
    """The admin's home page for whoever manages the bank: what is in it, and the way to its pages."""

    name = "exam_bank"
    order = 50

    def render_html(self, parent_context=None):
        from .models import Blueprint, Question

        counts = Question.objects.aggregate(active=Count("pk", filter=Q(is_active=True)),
                                            retired=Count("pk", filter=Q(is_active=False)))
        return render_to_string("exams/admin/_home_panel.html", {
            **counts, "blueprints": Blueprint.objects.filter(is_active=True).select_related("programme")})


@hooks.register("construct_homepage_panels")
def exam_bank_panel(request, panels):
    if can_manage_bank(request.user):
        panels.append(BankPanel())
