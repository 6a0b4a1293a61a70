"""A small course with every kind of lesson block, made as an editor would (pages published with revisions)."""

from __future__ import annotations

from django.core.files.base import ContentFile
from wagtail.documents import get_document_model
from wagtail.images import get_image_model
from wagtail.models import Page
from wagtail.rich_text import RichText

from content.models import CourseIndexPage, CoursePage, HomePage, LessonPage, ModulePage

SVG = (b'<svg xmlns="http://www.w3.org/2000/svg" width="200" height="100" viewBox="0 0 200 100">'
       b'<rect width="200" height="100" fill="#c8102e"/><text x="10" y="50">CPR</text></svg>')


def png_bytes(width=64, height=36, colour=(200, 16, 46)) -> bytes:
    from io import BytesIO

    from PIL import Image as PILImage

    out = BytesIO()
    PILImage.new("RGB", (width, height), colour).save(out, "PNG")
    return out.getvalue()


VTT = "WEBVTT\n\n00:00.000 --> 00:03.000\n判断意识：轻拍双肩，大声呼叫。\n".encode()
MP4 = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40  # not a playable video: bytes to serve


def media():
    Image, Document = get_image_model(), get_document_model()
    return {
        "svg": Image.objects.create(title="胸外按压示意图", file=ContentFile(SVG, name="cpr.svg")),
        "png": Image.objects.create(title="海报", file=ContentFile(png_bytes(), name="poster.png")),
        "video": Document.objects.create(title="心肺复苏演示", file=ContentFile(MP4, name="cpr.mp4")),
        "captions": Document.objects.create(title="心肺复苏演示字幕", file=ContentFile(VTT, name="cpr.vtt")),
    }


def lesson_body(m):
    return [
        ("text", RichText("<h2>为什么要学心肺复苏</h2><p>心脏骤停后每延迟一分钟，存活率明显下降。</p>")),
        ("image", {"image": m["svg"], "caption": "按压位置：胸部正中，两乳头连线中点", "alt": "双手叠放于胸骨下半部的示意图"}),
        ("video", {"video": m["video"], "poster": m["png"], "captions": m["captions"], "duration_s": 95.0,
                   "title": "成人心肺复苏完整演示"}),
        ("keypoint", {"title": "按压要点", "text": RichText("<p>深度5～6厘米，频率每分钟100～120次。</p>")}),
        ("warning", {"title": "确保现场安全", "text": RichText("<p>施救前先观察环境，排除触电、火灾等危险。</p>")}),
        ("steps", {"title": "成人心肺复苏步骤", "steps": [
            {"title": "判断意识", "text": "轻拍双肩，大声呼叫。", "image": m["svg"]},
            {"title": "呼救并取AED", "text": "请旁人拨打120，取来自动体外除颤器。", "image": None},
            {"title": "胸外按压", "text": "按压30次。", "image": None},
        ]}),
        ("question", {"prompt": "成人胸外按压的深度是多少？", "choices": [
            {"text": "3～4厘米", "correct": False},
            {"text": "5～6厘米", "correct": True},
            {"text": "7～8厘米", "correct": False},
        ], "explanation": RichText("<p>指南要求成人按压深度5～6厘米。</p>")}),
        ("question", {"prompt": "止血的方法有哪些？", "choices": [
            {"text": "直接压迫止血", "correct": True},
            {"text": "加压包扎止血", "correct": True},
            {"text": "涂抹牙膏", "correct": False},
        ], "explanation": RichText("<p>直接压迫和加压包扎都是常用的止血方法。</p>")}),
    ]


def publish(page):
    page.save_revision().publish()
    page.refresh_from_db()
    return page


def build_course(with_media=True):
    """Catalogue → 救护员课程 → two modules → three lessons; returns a dict of the pages (and media)."""
    home = HomePage.objects.first() or Page.objects.get(depth=1).add_child(instance=HomePage(title="首页", slug="home"))
    index = CourseIndexPage.objects.first()
    if index is None:
        index = publish(home.add_child(instance=CourseIndexPage(title="课程中心", slug="courses")))
    course = publish(index.add_child(instance=CoursePage(
        title="救护员取证课程", slug="first-aider", summary="应急救护的理论部分：心肺复苏、止血包扎、气道异物梗阻。")))
    m1 = publish(course.add_child(instance=ModulePage(title="心肺复苏与AED", slug="cpr", summary="成人心肺复苏和AED的使用。",
                                                      objectives=RichText("<p>能说出心肺复苏的步骤。</p>"))))
    m2 = publish(course.add_child(instance=ModulePage(title="创伤出血与包扎", slug="bleeding",
                                                      summary="止血与包扎的方法。")))
    m = media() if with_media else None
    l1 = publish(m1.add_child(instance=LessonPage(title="成人心肺复苏", slug="adult-cpr", summary="心肺复苏的步骤",
                                                  body=lesson_body(m) if m else [])))
    l2 = publish(m1.add_child(instance=LessonPage(title="气道异物梗阻与海姆立克急救法", slug="choking",
                                                  summary="腹部冲击法",
                                                  body=[("text", RichText("<p>海姆立克急救法用于气道异物梗阻。</p>"))])))
    l3 = publish(m2.add_child(instance=LessonPage(title="止血带止血", slug="tourniquet", summary="四肢大出血的处理",
                                                  body=[("text", RichText("<p>用止血带止血时记录时间。</p>"))])))
    return {"home": home, "index": index, "course": course, "m1": m1, "m2": m2, "l1": l1, "l2": l2, "l3": l3,
            "media": m}
