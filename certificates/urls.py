"""Certificates' routes: each area keeps its own list (verification, staff pages, PDFs, badges and keys)."""

from .urls_badges import urlpatterns as badge_urls
from .urls_pdf import urlpatterns as pdf_urls
from .urls_staff import urlpatterns as staff_urls
from .urls_verify import urlpatterns as verify_urls

app_name = "certificates"
urlpatterns = [*verify_urls, *staff_urls, *pdf_urls, *badge_urls]
