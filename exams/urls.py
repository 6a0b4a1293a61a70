from django.urls import path

from . import views, views_analytics

app_name = "exams"
urlpatterns = [
    path("", views.exam_list, name="list"),
    path("<int:blueprint_id>/start/", views.start, name="start"),
    path("attempts/<int:attempt_id>/", views.attempt_page, name="attempt"),
    path("attempts/<int:attempt_id>/answer/", views.answer, name="answer"),
    path("attempts/<int:attempt_id>/leave/", views.leave, name="leave"),
    path("attempts/<int:attempt_id>/state/", views.state, name="state"),
    path("attempts/<int:attempt_id>/submit/", views.submit, name="submit"),
    path("attempts/<int:attempt_id>/result/", views.result, name="result"),
    path("staff/", views.staff_attempts, name="staff_attempts"),
    path("staff/attempts/<int:attempt_id>/", views.staff_attempt, name="staff_attempt"),
    path("staff/attempts/<int:attempt_id>/void/", views.staff_void, name="staff_void"),
    path("staff/attempts/<int:attempt_id>/grant/", views.staff_grant, name="staff_grant"),
    path("analytics/", views_analytics.overview, name="analytics"),
    path("analytics/export/", views_analytics.overview_export, name="analytics_export"),
    path("analytics/questions/", views_analytics.questions, name="analytics_questions"),
    path("analytics/questions/export/", views_analytics.questions_export, name="analytics_questions_export"),
]
