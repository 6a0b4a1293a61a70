"""The instructors' pages (namespace "instructors", included at the site's root): profiles, teaching
records, trainees' feedback and the annual assessment (see ``instructors.views``)."""

from django.urls import path

from . import views

app_name = "instructors"
urlpatterns = [
    path("instructors/", views.instructor_list, name="list"),
    path("instructors/register/", views.instructor_register, name="register"),
    path("instructors/<int:pk>/", views.profile_detail, name="detail"),
    path("instructors/<int:pk>/suspend/", views.profile_suspend, name="suspend"),
    path("instructors/<int:pk>/reinstate/", views.profile_reinstate, name="reinstate"),
    path("instructors/<int:pk>/tier/", views.profile_tier, name="change_tier"),
    path("instructors/assessment/", views.assessment_index, name="assessment"),
    path("instructors/assessment/<int:year>/", views.assessment_year, name="assessment_year"),
    path("instructors/assessment/<int:year>/export.xlsx", views.assessment_export, name="assessment_export"),
    path("instructors/assessment/item/<int:pk>/", views.assessment_item, name="assessment_item"),
    path("my/teaching/", views.my_teaching, name="mine"),
    path("my/classes/<int:enrolment_id>/feedback/", views.class_feedback, name="feedback"),
]
