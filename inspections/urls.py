"""Inspections (飞行检查), mounted at /inspections/: plans, the inspector's phone checklist, findings, follow-ups."""

from django.urls import path

from . import views

app_name = "inspections"
urlpatterns = [
    path("", views.home, name="home"),
    path("sw.js", views.service_worker, name="sw"),
    path("findings/", views.findings, name="findings"),
    path("findings/<int:pk>/", views.finding, name="finding"),
    path("plans/new/", views.plan_new, name="plan_new"),
    path("plans/<int:pk>/", views.plan, name="plan"),
    path("photos/<int:pk>/", views.photo_file, name="photo_file"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/assign/", views.assign, name="assign"),
    path("<int:pk>/start/", views.start, name="start"),
    path("<int:pk>/checklist/", views.checklist, name="checklist"),
    path("<int:pk>/checklist/changes/", views.changes, name="changes"),
    path("<int:pk>/photos/", views.photos, name="photos"),
    path("<int:pk>/submit/", views.submit, name="submit"),
    path("<int:pk>/findings/new/", views.finding_new, name="finding_new"),
    path("<int:pk>/close/", views.close, name="close"),
]
