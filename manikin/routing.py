"""WebSocket routes of the manikin app."""

websocket_urlpatterns: list = []
