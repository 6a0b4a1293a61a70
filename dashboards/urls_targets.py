"""Targets of the plans, managed by region admins."""

from django.urls import path  # noqa: F401

app_name = "dashboard_targets"

urlpatterns: list = []
