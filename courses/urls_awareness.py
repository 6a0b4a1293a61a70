"""Awareness training (普及培训) sessions: headcounts entered by the organisations that hold them."""

from django.urls import path  # noqa: F401

app_name = "awareness"

urlpatterns: list = []
