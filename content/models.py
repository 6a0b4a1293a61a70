"""Wagtail pages of the public course site. The home page for now; the course catalogue follows."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from wagtail import blocks
from wagtail.admin.panels import FieldPanel
from wagtail.fields import RichTextField, StreamField
from wagtail.models import Page


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
