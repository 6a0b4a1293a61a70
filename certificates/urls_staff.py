"""The certificates' staff pages (/certificates/…) and the holder's page (/my/certificates/)."""

from django.urls import path

from . import views_staff as views

urlpatterns: list = [
    path("certificates/", views.certificate_list, name="list"),
    path("certificates/<int:pk>/", views.certificate_detail, name="detail"),
    path("certificates/<int:pk>/revoke/", views.certificate_revoke, name="revoke"),
    path("certificates/<int:pk>/correct-name/", views.certificate_correct_name, name="correct_name"),
    path("certificates/<int:pk>/renew/", views.certificate_renew, name="renew"),
    path("certificates/classes/<int:class_id>/", views.class_issue, name="class_issue"),
    path("certificates/jobs/<int:job_id>/", views.job_status, name="job_status"),
    path("certificates/exceptions/new/", views.exception_new, name="exception_new"),
    path("my/certificates/", views.mine, name="mine"),
    path("my/certificates/reminders/<int:pk>/read/", views.reminder_read, name="reminder_read"),
]
