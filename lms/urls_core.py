from django.contrib.auth import views as auth_views
from django.urls import path

from . import privacy_views, registration_views, views

app_name = "lms"
urlpatterns = [
    path("login/", auth_views.LoginView.as_view(template_name="lms/login.html", redirect_authenticated_user=True),
         name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("register/", registration_views.register, name="register"),
    path("password-reset/", views.password_reset, name="password_reset"),
    path("password-reset/code/", views.password_reset_verify, name="password_reset_verify"),
    path("account/password/", views.password_change, name="password_change"),
    path("healthz", views.healthz, name="healthz"),
    path("language/", views.language, name="language"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("people/", views.people, name="people"),
    path("people/new/", views.person_new, name="person_new"),
    path("people/<int:pk>/", views.person, name="person"),
    path("people/<int:pk>/edit/", views.person_edit, name="person_edit"),
    path("people/<int:pk>/photo/", views.person_photo, name="person_photo"),
    path("regions/", views.regions, name="regions"),
    path("organisations/", views.organisations, name="organisations"),
    path("privacy/", privacy_views.notice, name="privacy_notice"),
    path("my/data/", privacy_views.my_data, name="my_data"),
    path("people/<int:pk>/anonymise/", privacy_views.anonymise, name="person_anonymise"),
]
