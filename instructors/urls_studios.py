"""Studios (名师工作室): the public pages and their management (``instructors.views_studios``)."""

from django.urls import path

from . import views_studios as views

app_name = "studios"
urlpatterns = [
    path("studios/", views.studio_list, name="list"),
    path("studios/manage/", views.manage_list, name="manage_list"),
    path("studios/manage/new/", views.manage_new, name="manage_new"),
    path("studios/manage/<slug:slug>/", views.manage_edit, name="manage_edit"),
    path("studios/manage/<slug:slug>/members/", views.manage_members, name="manage_members"),
    path("studios/manage/<slug:slug>/showcase/", views.manage_showcase, name="manage_showcase"),
    path("studios/<slug:slug>/", views.studio_detail, name="detail"),
]
