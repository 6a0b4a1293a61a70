"""Search for Chinese text over the course site.

Chinese is written without spaces, and the full-text engines of SQLite (FTS5, unicode61 tokenizer)
and PostgreSQL (to_tsvector) cut words at spaces and punctuation only: 止血带止血 would be one
"word" and a search for 止血 would miss it. So the pages' text is cut into words by jieba before
Wagtail's database search backend indexes it (``search_text`` on each course page type: the words
and the dictionary words inside them, e.g. 心肺复苏 → 心肺复苏 心肺 复苏), and a query is cut into
words the same way (jieba's precise mode) and every word of it must match. The same words reach both
databases, so both find the same pages.

jieba ships its dictionary; it is loaded once per process, on first use, quietly (its parsed form
cached in ``var/jieba.cache``).
"""

from __future__ import annotations

import html
import logging
import re
import threading

from django.utils.html import strip_tags

# First-aid terms jieba's general dictionary does not know as words (it would cut 海姆立克 into 海姆 立克).
FIRST_AID_WORDS = [
    "应急救护", "救护员", "现场评估", "心肺复苏", "胸外按压", "人工呼吸", "自动体外除颤器", "除颤",
    "海姆立克", "海姆立克急救法", "气道异物梗阻", "止血带", "加压包扎", "三角巾", "绷带包扎", "骨折固定",
    "颈椎损伤", "脑卒中", "心肌梗死", "心梗", "低血糖", "癫痫", "烧烫伤", "中暑", "触电", "溺水",
    "复原体位", "回复体位", "生存链", "急救电话",
]

_lock = threading.Lock()
_jieba = None
_WORD = re.compile(r"\w", re.UNICODE)


def _tokenizer():
    """jieba, initialised once per process (dictionary loaded, our words added, its log quiet)."""
    global _jieba
    if _jieba is None:
        with _lock:
            if _jieba is None:
                import jieba

                from django.conf import settings

                jieba.setLogLevel(logging.WARNING)
                tokenizer = jieba.Tokenizer()
                # Its dictionary cache in our own var folder (0700), not a guessable name in a shared /tmp.
                tokenizer.tmp_dir = str(settings.VAR_DIR)
                tokenizer.initialize()
                for word in FIRST_AID_WORDS:
                    tokenizer.add_word(word, freq=50_000)
                _jieba = tokenizer
    return _jieba


def _words(pieces) -> list[str]:
    return [w.strip().lower() for w in pieces if _WORD.search(w or "")]


def segment_for_index(text: str) -> str:
    """The words of ``text`` and every dictionary word inside them (海姆立克急救法 → 海姆立克急救法
    海姆立克 急救法 急救 …), separated by spaces, for the search index."""
    if not text:
        return ""
    tokenizer = _tokenizer()
    out: list[str] = []
    for word in tokenizer.cut(text):
        out.append(word)
        for size in range(2, len(word)):
            for start in range(len(word) - size + 1):
                part = word[start:start + size]
                if tokenizer.FREQ.get(part):
                    out.append(part)
    return " ".join(_words(out))


def query_words(text: str) -> list[str]:
    """The words of a search query (precise mode), without punctuation, duplicates removed."""
    seen: dict[str, None] = {}
    for word in _words(_tokenizer().cut((text or "").strip())):
        seen.setdefault(word, None)
    return list(seen)


def strip_html(value) -> str:
    return html.unescape(strip_tags(str(value or ""))).strip()


def lesson_body_text(body) -> str:
    """The readable text of a lesson body: rich text, captions, call-outs, steps and questions
    (the prompt and choices, not which one is correct)."""
    parts: list[str] = []
    for block in body or []:
        value, kind = block.value, block.block_type
        if kind == "text":
            parts.append(strip_html(value))
        elif kind == "image":
            parts += [value.get("caption") or "", value.get("alt") or ""]
        elif kind == "video":
            parts.append(value.get("title") or "")
        elif kind in ("keypoint", "warning"):
            parts += [value.get("title") or "", strip_html(value.get("text"))]
        elif kind == "steps":
            parts.append(value.get("title") or "")
            for step in value.get("steps") or []:
                parts += [step.get("title") or "", step.get("text") or ""]
        elif kind == "question":
            parts.append(value.get("prompt") or "")
            parts += [choice.get("text") or "" for choice in value.get("choices") or []]
    return "\n".join(part for part in parts if part)


def search_pages(query: str):
    """Published course, module and lesson pages matching every word of ``query``, best first.

    Returns a list of specific pages (empty for an empty query)."""
    from wagtail.models import Page

    from content.models import CoursePage, LessonPage, ModulePage

    words = query_words(query)
    if not words:
        return []
    pages = Page.objects.live().public().type(CoursePage, ModulePage, LessonPage)
    ids = [page.pk for page in pages.search(" ".join(words), operator="and")[:50]]
    found = {page.pk: page for page in Page.objects.filter(pk__in=ids).specific()}
    return [found[pk] for pk in ids if pk in found]


def index_course_pages() -> int:
    """Index every course, module and lesson page now, in this process; returns how many.

    Saving a page only *enqueues* its index update (a django_tasks task, run by ``manage.py db_worker``,
    which ``bin/serve`` starts). A bulk load (``load_demo``, a course import) calls this so that search
    works as soon as the load ends, also where no worker runs yet."""
    from wagtail.models import Page
    from wagtail.search import index

    from content.models import CoursePage, LessonPage, ModulePage

    count = 0
    for page in Page.objects.type(CoursePage, ModulePage, LessonPage).specific().iterator():
        index.insert_or_update_object(page)
        count += 1
    return count
