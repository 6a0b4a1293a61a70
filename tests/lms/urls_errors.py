"""The product's URLs plus two views that fail, for the error-page tests."""

from django.contrib.auth import get_user_model
from django.shortcuts import get_object_or_404
from django.urls import path

from lms.urls import handler403, handler404, urlpatterns as product_urlpatterns  # noqa: F401


def boom(request):
    raise RuntimeError("secret detail")


def missing(request):
    get_object_or_404(get_user_model(), pk=999_999)


urlpatterns = [path("boom/", boom), path("missing/", missing), *product_urlpatterns]
