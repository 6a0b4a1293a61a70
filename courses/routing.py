"""WebSocket routes of the courses app."""

from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import path

from . import consumers

websocket_urlpatterns = [
    # A browser socket: the session cookie, and an Origin among ALLOWED_HOSTS (no cross-site hijacking).
    path("ws/study/", AllowedHostsOriginValidator(consumers.StudyConsumer.as_asgi())),
]
