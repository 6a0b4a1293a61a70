"""Awareness training (普及培训) sessions: headcounts entered by the organisations that hold them."""

from django.urls import path

from . import views_awareness as views

app_name = "awareness"

urlpatterns = [
    path("", views.session_list, name="list"),
    path("new/", views.session_new, name="new"),
]
