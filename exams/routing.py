"""WebSocket routes of the exams app."""

from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import path

from . import consumers

websocket_urlpatterns = [
    # A browser socket: the session cookie, and an Origin among ALLOWED_HOSTS (no cross-site hijacking).
    path("ws/exams/attempts/<int:attempt_id>/", AllowedHostsOriginValidator(consumers.ExamConsumer.as_asgi())),
]
