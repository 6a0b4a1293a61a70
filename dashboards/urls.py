"""The region dashboards' pages (``dashboards.views``)."""

from django.urls import path

from . import views

app_name = "dashboards"

urlpatterns = [
    path("", views.index, name="index"),
    path("<int:region_id>/", views.region_page, name="region"),
    path("<int:region_id>/export.xlsx", views.export, name="export"),
]
