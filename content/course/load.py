"""Load the 救护员 theory course (``content.course``) into the Wagtail course site, and the demo classes.

``load_course(site_root=None)`` builds or updates, under the site's home page::

    CourseIndexPage 课程中心 (slug "courses")
      → CoursePage 救护员培训（理论）
        → 7 ModulePages → their LessonPages (StreamField bodies built from the module files)

Illustrations become Wagtail images (SVG, in the collection 救护员课程); the lesson video and its
captions become Wagtail documents and its poster an image. Every page is saved as a revision and
published. Running it again changes nothing when the data has not changed (pages, images and
documents are found by slug and title and compared first); changed data is saved in place as a
new revision of the same page, so page ids, and so the trainees' progress, are kept. Block ids are
derived from the module, lesson, block type and ordinal, so a question or a video keeps its key
(``question_key`` / ``video_key``) when the text around it is edited. Pages that editors add, and
pages an editor has changed in the Wagtail admin (their latest revision has a user), are left alone
(``load_course(force=True)`` overwrites the latter with the data).

``load_demo(stdout=None)`` loads the course and then the demo programmes (救护员取证 分段型, 普及
菜单式, 复训 积分制), the demo class 西湖区救护员培训班（演示） with code ``DEMO_CLASS_CODE`` and
the demo trainee enrolled (``trainee_nb`` is not, so the code can be tried).
"""

from __future__ import annotations

import datetime
import hashlib
import re
import uuid
from decimal import Decimal
from pathlib import Path

from django.core.files.base import ContentFile
from django.db import transaction

from content.course import COURSE, INDEX, VIDEOS, modules

HERE = Path(__file__).resolve().parent
ILLUSTRATIONS = HERE / "illustrations"
MEDIA = HERE / "media"
COLLECTION_NAME = "救护员课程"
BLOCK_NAMESPACE = uuid.UUID("5b0d8f4e-6c1a-4f55-9a0e-7e3c2a1d9b42")

DEMO_CLASS_CODE = "XHJHY2026"
DEMO_CLASS_NAME = "西湖区救护员培训班（演示）"
DEMO_TRAINING_BASE = "杭州市红十字应急救护培训基地（演示）"

# Credits and class hours (1 class hour = 45 minutes) of each module, by module slug, per programme.
# A module's class hours match its lessons' estimated minutes (about 45 minutes a class hour).
# 救护员取证: 16 class hours in all, of which the online theory is 6; segments are taken in order.
PROGRAMMES = [
    {
        "code": "first-aider",
        "name": "救护员取证培训",
        "kind": "first_aider",
        "mode": "segmented",
        "required_class_hours": Decimal("16"),
        "theory_exam_required": True,
        "description": "中国红十字会救护员取证培训，共 16 学时：线上学习理论（6 学时，分段进行），"
                       "线下在培训基地练习心肺复苏、AED、止血包扎、骨折固定与搬运等技能（10 学时），"
                       "理论考试和模拟人实操考核合格后颁发救护员证。",
        "modules": [
            # (module slug, segment, required, credits, class hours)
            ("overview", 1, True, "1", "0.5"),
            ("cpr-aed", 1, True, "2", "1"),
            ("airway-obstruction", 1, True, "1", "0.5"),
            ("bleeding-bandaging", 2, True, "1.5", "1"),
            ("fracture-transport", 2, True, "1.5", "1"),
            ("medical-emergencies", 3, True, "1.5", "1"),
            ("accidents", 3, True, "1.5", "1"),
        ],
    },
    {
        "code": "awareness",
        "name": "应急救护普及培训",
        "kind": "awareness",
        "mode": "menu",
        "required_class_hours": Decimal("4"),
        "theory_exam_required": False,
        "description": "面向公众的应急救护普及培训（菜单式）：必学现场评估和心肺复苏与AED，"
                       "再从气道异物梗阻、常见急症、意外伤害中任选一个模块。",
        "modules": [
            ("overview", 1, True, "1", "0.5"),
            ("cpr-aed", 1, True, "2", "1"),
            ("airway-obstruction", 1, False, "1", "0.5"),
            ("medical-emergencies", 1, False, "1", "1"),
            ("accidents", 1, False, "1", "1"),
        ],
        "required_credits": Decimal("4"),
    },
    {
        "code": "refresher",
        "name": "救护员复训",
        "kind": "refresher",
        "mode": "credits",
        "required_class_hours": Decimal("8"),
        "theory_exam_required": True,
        "description": "救护员证到期前的复训（积分制）：在有效期内学习理论模块累计学分，"
                       "达到 5 学分即完成理论部分，不同培训班取得的学分可以累计。",
        "modules": [
            ("cpr-aed", 1, False, "2", "1"),
            ("airway-obstruction", 1, False, "1", "0.5"),
            ("bleeding-bandaging", 1, False, "1", "1"),
            ("fracture-transport", 1, False, "1", "1"),
            ("medical-emergencies", 1, False, "1", "1"),
            ("accidents", 1, False, "1", "1"),
        ],
        "required_credits": Decimal("5"),
    },
]


# ---------------------------------------------------------------- media


def _collection():
    from wagtail.models import Collection

    root = Collection.get_first_root_node()
    existing = root.get_children().filter(name=COLLECTION_NAME).first()
    return existing or root.add_child(name=COLLECTION_NAME)


def _sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def _svg_title(data: bytes, fallback: str) -> str:
    match = re.search(rb"<title>(.*?)</title>", data, re.S)
    return match.group(1).decode("utf-8").strip() if match else fallback


def _upsert_file(model, title: str, path: Path, collection):
    """An image or document found by title; its file replaced when the bytes differ. Returns (obj, changed)."""
    data = path.read_bytes()
    obj = model.objects.filter(title=title).order_by("pk").first()
    if obj is not None and obj.file_hash == _sha1(data):
        return obj, False
    if obj is None:
        obj = model(title=title, collection=collection)
    file_name = _content_name(path.name, data)
    stored = _stored_copy(obj, file_name, data)
    if stored:
        # The same bytes are in storage already (a demo database made afresh): use them, no second copy.
        obj.file = stored
        obj.file_size, obj.file_hash = len(data), _sha1(data)
    else:
        obj.file = ContentFile(data, name=file_name)
        obj.file_hash = ""  # recomputed just below
        if hasattr(obj, "_set_image_file_metadata"):
            obj._set_image_file_metadata()
        else:
            obj._set_document_file_metadata()
    obj.save()
    return obj, True


def _content_name(name: str, data: bytes) -> str:
    """The file name with the start of its SHA-1: the same bytes always get the same name, changed bytes another
    (``cpr-hand-position.svg`` → ``cpr-hand-position-1a2b3c4d.svg``, ``x.zh-hans.vtt`` → ``x-1a2b3c4d.zh-hans.vtt``)."""
    stem, dot, extension = name.partition(".")
    return f"{stem}-{_sha1(data)[:8]}{dot}{extension}"


def _stored_copy(obj, file_name: str, data: bytes) -> str:
    """The storage name of an identical file under the name an upload would get, or ''."""
    field = obj._meta.get_field("file")
    name = field.generate_filename(obj, file_name)
    storage = field.storage
    try:
        if storage.exists(name):
            with storage.open(name, "rb") as existing:
                if _sha1(existing.read()) == _sha1(data):
                    return name
    except OSError:
        pass
    return ""


class Media:
    """The course's images and documents, loaded once per run."""

    def __init__(self):
        from wagtail.documents import get_document_model
        from wagtail.images import get_image_model

        self.Image, self.Document = get_image_model(), get_document_model()
        self.collection = _collection()
        self.images: dict[str, object] = {}
        self.videos: dict[str, dict] = {}
        self.changed = 0

    def image(self, name: str):
        if name not in self.images:
            path = ILLUSTRATIONS / name
            title = _svg_title(path.read_bytes(), path.stem)
            self.images[name], changed = _upsert_file(self.Image, title, path, self.collection)
            self.changed += changed
        return self.images[name]

    def video(self, key: str) -> dict:
        if key not in self.videos:
            spec = VIDEOS[key]
            video, c1 = _upsert_file(self.Document, spec["title"], MEDIA / spec["video"], self.collection)
            captions, c2 = _upsert_file(self.Document, spec["captions_title"], MEDIA / spec["captions"],
                                        self.collection)
            poster, c3 = _upsert_file(self.Image, spec["poster_title"], MEDIA / spec["poster"], self.collection)
            self.changed += c1 + c2 + c3
            self.videos[key] = {"video": video.pk, "poster": poster.pk, "captions": captions.pk,
                                "duration_s": float(spec["duration_s"]), "title": spec["title"]}
        return self.videos[key]


# ---------------------------------------------------------------- lesson bodies


def _block_id(*parts) -> str:
    return str(uuid.uuid5(BLOCK_NAMESPACE, "/".join(str(p) for p in parts)))


def lesson_stream(module_slug: str, lesson: dict, media: Media) -> list[dict]:
    """The lesson body as StreamField raw data, with stable block ids."""
    ordinals: dict[str, int] = {}
    stream = []
    for block in lesson["body"]:
        kind = block[0]
        ordinals[kind] = ordinals.get(kind, 0) + 1
        key = (module_slug, lesson["slug"], kind, ordinals[kind])
        if kind == "text":
            value = block[1]
        elif kind in ("keypoint", "warning"):
            value = {"title": block[1], "text": block[2]}
        elif kind == "image":
            value = {"image": media.image(block[1]).pk, "alt": block[2], "caption": block[3]}
        elif kind == "steps":
            value = {"title": block[1], "steps": [
                {"type": "item", "id": _block_id(*key, "step", i),
                 "value": {"title": title, "text": text, "image": media.image(image).pk if image else None}}
                for i, (title, text, image) in enumerate(block[2], start=1)
            ]}
        elif kind == "video":
            value = dict(media.video(block[1]))
        elif kind == "question":
            value = {"prompt": block[1], "explanation": block[3], "choices": [
                {"type": "item", "id": _block_id(*key, "choice", i), "value": {"text": text, "correct": correct}}
                for i, (text, correct) in enumerate(block[2], start=1)
            ]}
        else:
            raise ValueError(f"unknown block type {kind!r} in lesson {lesson['slug']}")
        stream.append({"type": kind, "value": value, "id": _block_id(*key)})
    return stream


# ---------------------------------------------------------------- pages


def _normalised_stream(field, value):
    """A StreamField value (raw list or StreamValue) in its stored JSON form, for comparison."""
    if not hasattr(value, "raw_data"):
        value = field.to_python(value)
    return field.get_prep_value(value)


def _ensure_page(parent, model, slug: str, fields: dict, *, force: bool = False):
    """The child of ``parent`` with this slug, created or updated to ``fields`` and published.

    Returns (page, changed). Nothing is saved when the live page already has these values, nor
    (unless ``force``) when a person has edited the page in the Wagtail admin since: the loader
    saves its revisions without a user, so a latest revision with a user is an editor's work and
    is kept (``make demo`` runs the loader at every start)."""
    page = model.objects.child_of(parent).filter(slug=slug).first()
    if page is None:
        page = model(slug=slug, **fields)
        parent.add_child(instance=page)
        page.save_revision().publish()
        return model.objects.get(pk=page.pk), True
    latest = page.get_latest_revision()
    if not force and latest is not None and latest.user_id is not None:
        return page, False
    page = page.get_latest_revision_as_object() if page.has_unpublished_changes else page
    differs = False
    for name, wanted in fields.items():
        current = getattr(page, name)
        field = model._meta.get_field(name)
        if field.get_internal_type() == "JSONField" or hasattr(field, "stream_block"):
            if _normalised_stream(field, current) != _normalised_stream(field, wanted):
                differs = True
                setattr(page, name, wanted)
        elif hasattr(field, "remote_field") and field.remote_field is not None and field.many_to_one:
            if getattr(page, field.attname) != (wanted.pk if wanted is not None else None):
                differs = True
                setattr(page, name, wanted)
        elif current != wanted:
            differs = True
            setattr(page, name, wanted)
    differs = differs or page.draft_title != page.title
    if not differs and page.live and not page.has_unpublished_changes:
        return page, False
    page.draft_title = page.title
    page.save_revision().publish()
    return model.objects.get(pk=page.pk), True


def _site_root():
    from wagtail.models import Site

    from content.models import HomePage

    site = Site.objects.filter(is_default_site=True).select_related("root_page").first()
    root = site.root_page.specific if site else HomePage.objects.first()
    if root is None:
        raise RuntimeError("No site root page: run the migrations first (content.0002 creates the home page).")
    return root


def load_course(site_root=None, stdout=None, *, force: bool = False):
    """Build or update the 救护员 course under ``site_root`` (the default site's home page); returns the CoursePage.

    Pages an editor has changed in the Wagtail admin are left as they are unless ``force``."""
    from content.models import CourseIndexPage, CoursePage, LessonPage, ModulePage

    write = stdout.write if stdout else (lambda s: None)
    changed = 0
    with transaction.atomic():
        root = site_root or _site_root()
        media = Media()
        index = CourseIndexPage.objects.child_of(root).first()
        if index is None:
            index, c = _ensure_page(root, CourseIndexPage, INDEX["slug"],
                                    {"title": INDEX["title"], "intro": INDEX["intro"]}, force=force)
            changed += c
        course, c = _ensure_page(index, CoursePage, COURSE["slug"], {
            "title": COURSE["title"], "summary": COURSE["summary"], "body": COURSE["body"],
            "cover": media.image(COURSE["cover"]),
        }, force=force)
        changed += c
        lessons = 0
        for module in modules():
            module_page, c = _ensure_page(course, ModulePage, module["slug"], {
                "title": module["title"], "summary": module["summary"], "objectives": module["objectives"],
            }, force=force)
            changed += c
            for lesson in module["lessons"]:
                _page, c = _ensure_page(module_page, LessonPage, lesson["slug"], {
                    "title": lesson["title"], "summary": lesson["summary"],
                    "estimated_minutes": lesson["minutes"],
                    "body": lesson_stream(module["slug"], lesson, media),
                }, force=force)
                changed += c
                lessons += 1
    write(f"course: {course.title} · {len(modules())} modules, {lessons} lessons · "
          f"{changed} pages and {media.changed} files created or updated\n")
    return course


# ---------------------------------------------------------------- demo programmes and class


def load_programmes(course):
    """The demo programmes over the course's modules (created or updated in place)."""
    from content.models import ModulePage
    from courses.models import Programme, ProgrammeModule

    pages = {page.slug: page for page in ModulePage.objects.child_of(course)}
    result = {}
    for spec in PROGRAMMES:
        rows = spec["modules"]
        required_credits = spec.get("required_credits") or sum(Decimal(r[3]) for r in rows if r[2])
        programme, _created = Programme.objects.update_or_create(code=spec["code"], defaults={
            "name": spec["name"], "kind": spec["kind"], "mode": spec["mode"], "description": spec["description"],
            "course_page": course, "required_credits": required_credits,
            "required_class_hours": spec["required_class_hours"],
            "theory_exam_required": spec["theory_exam_required"], "is_active": True,
        })
        for order, (slug, segment, required, credits, hours) in enumerate(rows, start=1):
            ProgrammeModule.objects.update_or_create(programme=programme, module_page=pages[slug], defaults={
                "order": order, "segment": segment, "required": required,
                "credits": Decimal(credits), "class_hours": Decimal(hours),
            })
        result[spec["code"]] = programme
    return result


def load_demo_class(programme, today: datetime.date | None = None):
    """西湖区救护员培训班（演示）: capacity 60, theory deadline three weeks on, the demo instructor,
    the demo trainee enrolled by an admin."""
    from django.utils import timezone

    from courses import api as courses_api
    from courses.models import Enrolment, TrainingClass
    from lms.models import Organisation, User

    today = today or timezone.localdate()
    base = Organisation.objects.get(name=DEMO_TRAINING_BASE)
    cls = TrainingClass.objects.filter(code=DEMO_CLASS_CODE).first()
    if cls is None or cls.ends_on < today:  # first run, or the demo has aged past the class: dates afresh
        dates = {"starts_on": today, "theory_deadline": today + datetime.timedelta(days=21),
                 "ends_on": today + datetime.timedelta(days=28),
                 "schedule": "\n".join([
                     f"{today + datetime.timedelta(days=21):%Y-%m-%d} 09:00–12:00 线上理论截止，理论考试",
                     f"{today + datetime.timedelta(days=22):%Y-%m-%d} 09:00–17:00 技能练习：心肺复苏与AED、气道异物梗阻",
                     f"{today + datetime.timedelta(days=23):%Y-%m-%d} 09:00–17:00 技能练习：止血包扎、骨折固定与搬运",
                     f"{today + datetime.timedelta(days=28):%Y-%m-%d} 09:00–12:00 模拟人实操考核",
                 ])}
        cls, _created = TrainingClass.objects.update_or_create(code=DEMO_CLASS_CODE, defaults={
            "programme": programme, "name": DEMO_CLASS_NAME, "training_base": base,
            "venue": "杭州市西湖区文三路（演示地址）培训基地二楼教室", "capacity": 60,
            "status": TrainingClass.Status.OPEN, **dates,
        })
    instructor = User.objects.filter(username="instructor").first()
    if instructor is not None and not cls.instructors.filter(pk=instructor.pk).exists():
        cls.instructors.add(instructor)
    trainee = User.objects.filter(username="trainee").first()
    if trainee is not None:
        courses_api.enrol(None, trainee, cls, source=Enrolment.Source.ADMIN)
    return cls


def load_demo(stdout=None):
    """The course, the demo programmes and the demo class; prints the class code."""
    write = stdout.write if stdout else (lambda s: None)
    with transaction.atomic():
        course = load_course(stdout=stdout)
        programmes = load_programmes(course)
        cls = load_demo_class(programmes["first-aider"])
    from content.search import index_course_pages

    indexed = index_course_pages()  # search works now, not only once db_worker has run the queued updates
    write(f"search index: {indexed} course pages\n")
    write(f"programmes: {', '.join(p.name for p in programmes.values())}\n")
    write(f"class: {cls.name} · code {cls.code} · theory by {cls.theory_deadline} · "
          f"{cls.enrolments.count()} enrolled (trainee; trainee_nb can enrol with the code)\n")
    return cls
