"""Question bank and blueprint administration (``exams.admin_views``), mounted in the Wagtail admin at /admin/exam-bank/ (``exams.wagtail_hooks``)."""

from django.urls import path

from . import admin_practical, admin_views

urlpatterns = [
    path("questions/", admin_views.question_list, name="questions"),
    path("questions/new/", admin_views.question_edit, name="question_new"),
    path("questions/<int:pk>/", admin_views.question_edit, name="question"),
    path("questions/<int:pk>/active/", admin_views.question_active, name="question_active"),
    path("questions/import/", admin_views.question_import, name="import"),
    path("questions/export/", admin_views.question_export, name="export"),
    path("blueprints/", admin_views.blueprint_list, name="blueprints"),
    path("blueprints/new/", admin_views.blueprint_edit, name="blueprint_new"),
    path("blueprints/<int:pk>/", admin_views.blueprint_edit, name="blueprint"),
    path("practical/", admin_practical.scheme_list, name="practical_schemes"),
    path("practical/<int:programme_id>/new/", admin_practical.scheme_new, name="practical_scheme_new"),
]
