"""The certificate PDFs: one certificate (A4, or ``?layout=card``), a class as one PDF or a zip."""

from django.urls import path

from . import views_pdf

urlpatterns: list = [
    path("certificates/<int:pk>/pdf/", views_pdf.certificate_pdf, name="certificate_pdf"),
    path("certificates/classes/<int:class_id>/certificates.pdf", views_pdf.class_bundle_pdf, name="class_bundle_pdf"),
    path("certificates/classes/<int:class_id>/certificates.zip", views_pdf.class_bundle_zip, name="class_bundle_zip"),
]
