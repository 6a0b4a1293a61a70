"""The ASGI router: Django for HTTP, each app's WebSocket routes for ws://."""

from channels.auth import AuthMiddlewareStack
from channels.routing import ProtocolTypeRouter, URLRouter
from django.core.asgi import get_asgi_application

from courses.routing import websocket_urlpatterns as study_routes
from exams.routing import websocket_urlpatterns as exam_routes
from manikin.routing import websocket_urlpatterns as manikin_routes

application = ProtocolTypeRouter(
    {
        "http": get_asgi_application(),
        # Browser sockets check their Origin inside the consumer (bridges send none).
        "websocket": AuthMiddlewareStack(URLRouter(manikin_routes + study_routes + exam_routes)),
    }
)
