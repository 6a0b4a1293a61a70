"""The region dashboards' pages (filled in by the pages work)."""

from django.urls import path  # noqa: F401

app_name = "dashboards"

urlpatterns: list = []
