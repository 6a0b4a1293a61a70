"""The Wagtail admin sends people administration to the product's own pages.

Wagtail's user editor (``/admin/users/``) knows nothing of the protected ID-card and phone numbers,
the region subtree, the grantable roles or the photo checks: editing a person there would bypass
them. Its create, edit and delete views answer with a redirect to ``/people/`` pages, and the
settings menu's "Users" item becomes "People" and points there.
"""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from wagtail import hooks
from wagtail.admin.menu import MenuItem


def _sent_away(request):
    messages.info(request, _("People are added and edited on the People pages, with their checks."))


@hooks.register("before_create_user")
def people_form_for_new_users(request):
    _sent_away(request)
    return redirect("lms:person_new")


@hooks.register("before_edit_user")
def people_form_for_users(request, user):
    _sent_away(request)
    return redirect("lms:person_edit", pk=user.pk)


@hooks.register("before_delete_user")
def no_user_deletion_here(request, user):
    # People are not deleted (exam records point to them): a person who has left is anonymised.
    _sent_away(request)
    return redirect("lms:person", pk=user.pk)


@hooks.register("construct_settings_menu")
def people_instead_of_users(request, menu_items):
    for i, item in enumerate(menu_items):
        if item.name == "users":
            menu_items[i] = MenuItem(gettext_lazy("People"), reverse("lms:people"), name="users",
                                     icon_name="user", order=item.order)
