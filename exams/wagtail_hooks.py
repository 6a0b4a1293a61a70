"""The Wagtail admin menu links to the question bank and blueprint pages (``exams.admin_views``).

They are the product's own pages (/exam-bank/), as the People pages are, because province admins
manage the bank without using the Wagtail admin; the items show only to those who may use them
(``can_manage_bank``), and the pages check it again.
"""

from __future__ import annotations

from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.menu import Menu, MenuItem, SubmenuMenuItem

from .questions import can_manage_bank


class BankMenuItem(MenuItem):
    def is_shown(self, request):
        return can_manage_bank(request.user)


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
    ])
    return BankSubmenu(_("Exams"), menu, name="exams", icon_name="form", order=260)
