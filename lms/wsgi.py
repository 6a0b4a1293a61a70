"""WSGI entry point: every HTTP request (pages, API, admin). WebSockets go to lms.asgi (see lms.serving)."""

import gc
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lms.settings")

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()

# As in lms.asgi: keep the start-up heap out of the garbage collector's full collections.
gc.collect()
gc.freeze()
