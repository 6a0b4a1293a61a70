from django.urls import path

from . import views

app_name = "courses"
urlpatterns = [
    path("", views.home, name="home"),
    path("enrol/", views.enrol, name="enrol"),
    path("enrolments/<int:enrolment_id>/modules/", views.choose_modules, name="choose_modules"),
    path("heartbeat/", views.heartbeat, name="heartbeat"),
    path("video/", views.video, name="video"),
    path("answer/", views.answer, name="answer"),
    path("lessons/<int:lesson_id>/state/", views.lesson_state, name="lesson_state"),
]
