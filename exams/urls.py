from django.urls import path

from . import views, views_analytics, views_practical as practical

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
    # the practical exam (线下考操作)
    path("practical/", practical.home, name="practical"),
    path("practical/sessions/new/", practical.session_new, name="practical_session_new"),
    path("practical/sessions/<int:session_id>/", practical.session_page, name="practical_session"),
    path("practical/sessions/<int:session_id>/book/", practical.book_self, name="practical_book"),
    path("practical/bookings/<int:booking_id>/", practical.booking_page, name="practical_booking"),
    path("practical/bookings/<int:booking_id>/state/", practical.booking_state, name="practical_state"),
    path("practical/bookings/<int:booking_id>/photo/", practical.booking_photo, name="practical_photo"),
    path("practical/bookings/<int:booking_id>/check-in/", practical.check_in, name="practical_check_in"),
    path("practical/bookings/<int:booking_id>/status/", practical.booking_status, name="practical_status"),
    path("practical/bookings/<int:booking_id>/checklist/", practical.checklist, name="practical_checklist"),
    path("practical/bookings/<int:booking_id>/sign/", practical.sign, name="practical_sign"),
    path("practical/bookings/<int:booking_id>/appeal/", practical.appeal, name="practical_appeal"),
    path("practical/appeals/<int:appeal_id>/", practical.appeal_review, name="practical_appeal_review"),
]
