"""Targets of the plans, managed by region admins (``dashboards.views_targets``)."""

from django.urls import path

from . import views_targets

app_name = "dashboard_targets"

urlpatterns = [
    path("", views_targets.target_list, name="list"),
    path("<int:pk>/", views_targets.target_edit, name="edit"),
]
