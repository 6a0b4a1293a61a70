"""Public verification (no sign-in): the pages, what the QR code opens, and the JSON API for employers
(``docs/verification.md``)."""

from django.urls import path, register_converter

from . import views_verify as views


class PayloadConverter:
    """A payload as printed in the QR code (base64url and a dot), with or without a final slash."""

    regex = r"[A-Za-z0-9_.=-]{1,1000}/?"

    def to_python(self, value: str) -> str:
        return value.rstrip("/")

    def to_url(self, value: str) -> str:
        return value


register_converter(PayloadConverter, "payload")

urlpatterns: list = [
    path("verify/", views.verify, name="verify"),
    path("verify/bulk/", views.verify_bulk, name="verify_bulk"),
    path("verify/bulk/xlsx/", views.verify_bulk_xlsx, name="verify_bulk_xlsx"),
    # What the QR code opens: /v/<payload> as printed (base64url and a dot), with or without a final slash.
    path("v/<payload:payload>", views.verify_scan, name="verify_scan"),
    # The API: the bulk route before the number route, which would otherwise take "verify" for a number.
    path("api/v1/certificates/verify/", views.api_verify_many, name="api_verify_many"),
    path("api/v1/certificates/<str:number>/", views.api_certificate, name="api_certificate"),
    path("api/v1/scan/", views.api_scan, name="api_scan"),
]
