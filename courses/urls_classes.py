"""Class administration (/classes/, namespace "classes"): organisation, region and system admins."""

from django.urls import path

from . import views_classes as views

app_name = "classes"
urlpatterns = [
    path("", views.class_list, name="list"),
    path("new/", views.class_create, name="create"),
    path("<int:pk>/", views.class_detail, name="detail"),
    path("<int:pk>/edit/", views.class_edit, name="edit"),
    path("<int:pk>/rotate-code/", views.class_rotate_code, name="rotate_code"),
    path("<int:pk>/roster/", views.class_roster, name="roster"),
]
