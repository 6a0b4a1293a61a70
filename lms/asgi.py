"""ASGI entry point: HTTP and WebSocket on one port (Daphne)."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lms.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

django_asgi_app = get_asgi_application()

from lms.routing import application  # noqa: E402,F401

# Move everything loaded at start-up (Django, Wagtail, the URL and template machinery) out of the
# garbage collector's sight: full collections then scan only what requests create, which keeps
# the pauses they cause on a busy live stream short.
import gc  # noqa: E402

gc.collect()
gc.freeze()
