"""Wagtail pages of the public course site: the home page, the course catalogue, courses, modules and lessons."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from wagtail import blocks
from wagtail.admin.panels import FieldPanel
from wagtail.fields import RichTextField, StreamField
from wagtail.models import Page
from wagtail.url_routing import RouteResult
from wagtail.search import index

from content.blocks import LESSON_BODY_BLOCKS
from content.search import lesson_body_text, strip_html


class HomePage(Page):
    intro = models.CharField(_("intro"), max_length=255, blank=True)
    body = RichTextField(_("body"), blank=True)
    highlights = StreamField(
        [
            ("highlight", blocks.StructBlock([
                ("title", blocks.CharBlock(max_length=40)),
                ("text", blocks.TextBlock(max_length=200)),
            ], icon="pick")),
        ],
        blank=True,
        use_json_field=True,
        verbose_name=_("highlights"),
    )

    content_panels = Page.content_panels + [FieldPanel("intro"), FieldPanel("body"), FieldPanel("highlights")]
    max_count = 1

    class Meta:
        verbose_name = _("home page")

    def route(self, request, path_components):
        """A lesson (catalogue/course/module/lesson) in one query instead of one or two per level of
        the tree; everything else as Wagtail routes it. Same rules: the lesson must be live, the
        pages above it need not be (Wagtail's own routing does not ask either)."""
        if len(path_components) == 4:
            url_path = f"{self.url_path}{'/'.join(path_components)}/"
            lesson = LessonPage.objects.filter(slug=path_components[-1], url_path=url_path, live=True).first()
            if lesson is not None:
                return RouteResult(lesson)
        return super().route(request, path_components)

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        catalogue = CourseIndexPage.objects.child_of(self).live().first()
        context["courses_url"] = catalogue.get_url(request) if catalogue else None
        return context


# ---------------------------------------------------------------- the course site
# HomePage → CourseIndexPage (课程中心) → CoursePage → ModulePage → LessonPage.


class CourseIndexPage(Page):
    """The catalogue (课程中心): every published course."""

    intro = RichTextField(_("intro"), blank=True)

    content_panels = Page.content_panels + [FieldPanel("intro")]
    search_fields = Page.search_fields + [index.SearchField("intro")]
    parent_page_types = ["content.HomePage"]
    subpage_types = ["content.CoursePage"]
    max_count = 1

    class Meta:
        verbose_name = _("course catalogue")

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        context["courses"] = (CoursePage.objects.child_of(self).live().public().order_by("path")
                              .select_related("cover"))
        return context


class SegmentedSearchMixin:
    """A ``search_text`` for Wagtail's database search backend: the page's Chinese text cut into words
    by jieba (content.search), so that a search for 止血 finds 止血带止血 on SQLite and PostgreSQL alike."""

    def search_parts(self) -> list[str]:
        return [self.title, getattr(self, "summary", "")]

    def search_text(self) -> str:
        from content.search import segment_for_index

        return segment_for_index(" ".join(part for part in self.search_parts() if part))


class CoursePage(SegmentedSearchMixin, Page):
    summary = models.CharField(_("summary"), max_length=255)
    body = RichTextField(_("body"), blank=True)
    cover = models.ForeignKey("wagtailimages.Image", verbose_name=_("cover image"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="+")

    content_panels = Page.content_panels + [FieldPanel("summary"), FieldPanel("cover"), FieldPanel("body")]
    search_fields = Page.search_fields + [
        index.SearchField("summary"),
        index.SearchField("body"),
        index.SearchField("search_text"),
    ]
    parent_page_types = ["content.CourseIndexPage"]
    subpage_types = ["content.ModulePage"]

    class Meta:
        verbose_name = _("course")

    def search_parts(self):
        return [self.title, self.summary, strip_html(self.body)]

    def modules(self):
        return ModulePage.objects.child_of(self).live().public().order_by("path")

    def lessons(self):
        """Every published lesson of the course, module by module, in the editors' order."""
        return LessonPage.objects.descendant_of(self).live().public().order_by("path")

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        modules = list(self.modules())
        lessons = list(self.lessons().only("id", "title", "path", "depth", "url_path", "slug",
                                           "estimated_minutes", "summary"))
        for module in modules:
            module.lesson_list = [lesson for lesson in lessons if lesson.path.startswith(module.path)]
        context["modules"] = modules
        context["total_minutes"] = sum(lesson.estimated_minutes for lesson in lessons)
        return context


class ModulePage(SegmentedSearchMixin, Page):
    summary = models.CharField(_("summary"), max_length=255)
    objectives = RichTextField(_("learning objectives"), blank=True)

    content_panels = Page.content_panels + [FieldPanel("summary"), FieldPanel("objectives")]
    search_fields = Page.search_fields + [
        index.SearchField("summary"),
        index.SearchField("objectives"),
        index.SearchField("search_text"),
    ]
    parent_page_types = ["content.CoursePage"]
    subpage_types = ["content.LessonPage"]

    class Meta:
        verbose_name = _("module")

    def search_parts(self):
        return [self.title, self.summary, strip_html(self.objectives)]

    def lessons(self):
        return LessonPage.objects.child_of(self).live().public().order_by("path")

    def course(self):
        return CoursePage.objects.parent_of(self).first()

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        context["lessons"] = self.lessons()
        context["course"] = self.get_parent()
        return context


class LessonPage(SegmentedSearchMixin, Page):
    summary = models.CharField(_("summary"), max_length=255, blank=True)
    estimated_minutes = models.PositiveSmallIntegerField(_("estimated minutes"), default=10)
    body = StreamField(LESSON_BODY_BLOCKS, use_json_field=True, verbose_name=_("body"))

    content_panels = Page.content_panels + [
        FieldPanel("summary"), FieldPanel("estimated_minutes"), FieldPanel("body"),
    ]
    search_fields = Page.search_fields + [
        index.SearchField("summary"),
        index.SearchField("search_text"),
    ]
    parent_page_types = ["content.ModulePage"]
    subpage_types = []

    class Meta:
        verbose_name = _("lesson")

    def search_parts(self):
        return [self.title, self.summary, lesson_body_text(self.body)]

    # ---- the tree around a lesson

    def module(self):
        return ModulePage.objects.parent_of(self).first()

    def course(self):
        return CoursePage.objects.ancestor_of(self).first()

    def _course_lessons(self):
        course_path = self.path[: (self.depth - 2) * self.steplen]
        return LessonPage.objects.filter(path__startswith=course_path, depth=self.depth).live().public()

    def next_lesson(self):
        """The next published lesson of the course (into the next module at a module's end), or None."""
        return self._course_lessons().filter(path__gt=self.path).order_by("path").first()

    def previous_lesson(self):
        return self._course_lessons().filter(path__lt=self.path).order_by("-path").first()

    # ---- the video and question blocks, by their block id (video_key / question_key)

    def videos(self) -> dict:
        return {block.id: block.value for block in self.body if block.block_type == "video"}

    def questions(self) -> dict:
        return {block.id: block.value for block in self.body if block.block_type == "question"}

    # ---- rendering: the part that is the same for every visitor is rendered once and cached

    def get_context(self, request, *args, **kwargs):
        from content.rendering import lesson_shared_html

        context = super().get_context(request, *args, **kwargs)
        context["shared_html"] = lesson_shared_html(self, request)
        return context

    def serve(self, request, *args, **kwargs):
        from content.pagecache import mark_cacheable

        if not getattr(request, "is_preview", False) and not self.get_view_restrictions():
            mark_cacheable(request)  # the same for every visitor: content.pagecache keeps the whole page
        return super().serve(request, *args, **kwargs)
