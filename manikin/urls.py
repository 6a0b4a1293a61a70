from django.urls import path

from . import views

app_name = "manikin"
urlpatterns = [
    path("rooms/", views.rooms, name="rooms"),
    path("rooms/<int:room_id>/", views.console, name="console"),
    path("rooms/<int:room_id>/setup/", views.room_setup, name="room_setup"),
    path("rooms/<int:room_id>/history/", views.room_history, name="room_history"),
    path("rooms/<int:room_id>/trainees/", views.trainee_search, name="trainee_search"),
    path("manikins/<int:manikin_id>/start/", views.start, name="start"),
    path("manikins/<int:manikin_id>/live/", views.live_view, name="live"),
    path("recordings/<int:recording_id>/", views.recording, name="recording"),
    path("recordings/<int:recording_id>/stop/", views.stop, name="stop"),
    path("recordings/<int:recording_id>/cancel/", views.cancel, name="cancel"),
    path("my/recordings/", views.my_recordings, name="my_recordings"),
]
