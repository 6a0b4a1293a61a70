"""Who may enter the Wagtail admin for the question bank: an authentication backend that grants only
``wagtailadmin.access_admin``, and only to those who manage the bank (``can_manage_bank``).

It authenticates no one (``authenticate`` is the base class's, returning None). System admins have the
permission already (superusers); province admins get it here, so that the bank's pages, which live in
the Wagtail admin (``exams.wagtail_hooks``), open for them. Nothing else in the admin opens with it:
pages, images, documents, snippets and settings each need their own permissions.
"""

from __future__ import annotations

from django.contrib.auth.backends import BaseBackend

ACCESS_ADMIN = "wagtailadmin.access_admin"


class BankManagerAdminAccess(BaseBackend):
    def has_perm(self, user_obj, perm, obj=None) -> bool:
        if perm != ACCESS_ADMIN or obj is not None or not user_obj.is_active or user_obj.is_anonymous:
            return False
        cached = getattr(user_obj, "_exams_bank_manager", None)
        if cached is None:
            from .questions import can_manage_bank

            cached = user_obj._exams_bank_manager = can_manage_bank(user_obj)
        return cached
