"""The 救护员 theory course as data, and its loader (``content.course.load.load_course``).

Each module is one Python file (``m1_overview.py`` …) holding a ``MODULE`` dict. A lesson body is a
list of tuples, one per StreamField block of ``content.blocks``:

- ``("text", html)``
- ``("keypoint", title, html)`` and ``("warning", title, html)``
- ``("steps", title, [(step_title, text, svg_name_or_None), ...])``
- ``("image", svg_name, alt, caption)``
- ``("video", media_name)`` (a video described in ``content.course.media_files.VIDEOS``)
- ``("question", prompt, [(choice_text, correct), ...], explanation_html)``

Illustrations are hand-written SVG files in ``illustrations/``; the lesson video, its poster and
captions are in ``media/`` (made by ``tools/make_cpr_video.py``).
"""

from importlib import import_module

MODULE_NAMES = [
    "m1_overview",
    "m2_cpr_aed",
    "m3_airway",
    "m4_bleeding",
    "m5_fracture",
    "m6_emergencies",
    "m7_accidents",
]


def modules() -> list[dict]:
    return [import_module(f"content.course.{name}").MODULE for name in MODULE_NAMES]
