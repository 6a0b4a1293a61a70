"""WebSocket routes of the manikin app."""

from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import path

from . import consumers

websocket_urlpatterns = [
    # Bridges are programs, not browsers: no Origin header; they authenticate with the station token.
    path("ws/bridge/", consumers.BridgeConsumer.as_asgi()),
    # Browser sockets: session cookie, and the Origin must be one of ALLOWED_HOSTS (no cross-site hijacking).
    path("ws/rooms/<int:room_id>/", AllowedHostsOriginValidator(consumers.RoomConsoleConsumer.as_asgi())),
    path("ws/manikins/<int:manikin_id>/", AllowedHostsOriginValidator(consumers.ManikinViewConsumer.as_asgi())),
]
