"""The 救护员 theory course as data, and its loader (``content.course.load.load_course``).

Each module is one Python file (``m1_overview.py`` …) holding a ``MODULE`` dict. A lesson body is a
list of tuples, one per StreamField block of ``content.blocks``:

- ``("text", html)``
- ``("keypoint", title, html)`` and ``("warning", title, html)``
- ``("steps", title, [(step_title, text, svg_name_or_None), ...])``
- ``("image", svg_name, alt, caption)``
- ``("video", media_name)`` (a video described in ``VIDEOS`` below)
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


# The lesson videos: files in media/ (made by tools/make_cpr_video.py), duration measured from the file.
VIDEOS = {
    "cpr-rhythm": {
        "title": "成人心肺复苏：按压节律与 30∶2",
        "video": "cpr-rhythm.webm",
        "poster": "cpr-rhythm-poster.png",
        "poster_title": "心肺复苏按压节律视频封面",
        "captions": "cpr-rhythm.zh-hans.vtt",
        "captions_title": "成人心肺复苏：按压节律与 30∶2（中文字幕）",
        "duration_s": 31.33,
    },
}

COURSE = {
    "slug": "first-aider-theory",
    "title": "救护员培训（理论）",
    "summary": "中国红十字会救护员培训的线上理论课程：现场评估、心肺复苏与AED、气道异物梗阻、止血包扎、"
               "骨折固定与搬运、常见急症和意外伤害。",
    "cover": "course-cover.svg",
    "body": (
        "<p>本课程是救护员取证培训的线上理论部分，共 7 个模块。每课都有要点提示和练习题，"
        "学完全部理论后即可参加理论考试；心肺复苏、AED、止血包扎、骨折固定与搬运等技能，"
        "还需要在培训基地由救护师资带教练习，并通过模拟人实操考核。</p>"
        "<p>课程内容依据我国应急救护培训要求和现行国际心肺复苏与急救指南编写。遇到紧急情况，"
        "请先确保安全，并立即拨打 120。</p>"
    ),
}

INDEX = {
    "slug": "courses",
    "title": "课程中心",
    "intro": "<p>线上学理论，线下练操作。选择课程，随时随地用手机学习应急救护知识。</p>",
}


def modules() -> list[dict]:
    return [import_module(f"content.course.{name}").MODULE for name in MODULE_NAMES]
